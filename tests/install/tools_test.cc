// The helm a bundle carries for the installer host (`sealift-bundle build --include-helm`): verify
// checks it like every other entry, and the installer runs it when the user names no helm of
// their own, only after its bytes matched sealift.json as they were written out.
#include <sys/stat.h>

#include "env/cluster.h"
#include "harness.h"
#include "install/tools.h"
#include "sign/blob.h"
#include "sign/key.h"
#include "sign/password.h"
#include "util/error.h"

namespace sealift::install::testing {
namespace {

fs::path scratch(const std::string& name) {
  static testenv::TempDir dir("sealift-tools-test");
  return dir / name;
}

std::string real_helm() { return fs::canonical(testenv::peer("helm")).string(); }

// The default bundle, plus the real helm as a tool.
const testenv::BuiltBundle& helm_bundle() {
  static const testenv::BuiltBundle b = [] {
    testenv::BundleSpec spec;
    spec.include_helm = real_helm();
    return factory().build(spec, factory().dir() / "with-helm.tar.zst");
  }();
  return b;
}

// A bundle whose "helm" is for another machine (an AArch64 ELF header, version given by hand).
const testenv::BuiltBundle& arm64_helm_bundle() {
  static const testenv::BuiltBundle b = [] {
    std::string elf(4096, 'x');
    elf.replace(0, 16, std::string("\x7f" "ELF\x02\x01\x01\x00", 8) + std::string(8, '\0'));
    elf[16] = 2, elf[17] = 0, elf[18] = static_cast<char>(183), elf[19] = 0;
    util::write_file_atomic(scratch("helm-arm64"), elf, 0755);
    testenv::BundleSpec spec;
    spec.include_helm = scratch("helm-arm64");
    spec.helm_version = "v3.21.4";
    return factory().build(spec, factory().dir() / "with-arm64-helm.tar.zst");
  }();
  return b;
}

const bundle::RootTool& helm_of(const fs::path& bundle) {
  static std::map<fs::path, bundle::Root> roots;
  auto it = roots.try_emplace(bundle, root_of(bundle)).first;
  if (it->second.tools.empty()) throw std::logic_error(bundle.string() + " carries no tool");
  return it->second.tools.front();
}

// A PATH with the usual tools and no helm; a directory with only helm in it, for PATH.
std::string path_without_helm() {
  for (const char* d : {"/usr/bin", "/bin"})
    if (fs::exists(fs::path(d) / "helm")) ADD_FAILURE() << d << "/helm exists: the test cannot hide helm";
  return "/usr/bin:/bin";
}
std::string path_with_helm() {
  fs::path dir = scratch("path-helm");
  if (!fs::exists(dir / "helm")) {
    fs::create_directories(dir);
    fs::create_symlink(real_helm(), dir / "helm");
  }
  return dir.string() + ":/usr/bin:/bin";
}

RunResult export_bundle(const fs::path& bundle, const std::string& out, const std::map<std::string, std::string>& env,
                        const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"export",   bundle.string(), "--key",     factory().public_key().string(),
                                   "--registry", "harbor.example.com", "--project", "ai-saas",
                                   "-o",       scratch(out).string()};
  args.insert(args.end(), extra.begin(), extra.end());
  return install(args, env);
}

TEST(BundledHelm, VerifyChecksItAndPushLeavesItOut) {
  const auto& b = helm_bundle();
  RunResult r = install({"verify", b.path.string(), "--key", factory().public_key().string()});
  EXPECT_EQ(r.exit_code, 0) << said(r);

  // Push takes images and the chart only: the tool's blobs never reach the registry.
  Target target;
  RunResult p = target.push(b.path, {"--create-project"});
  ASSERT_EQ(p.exit_code, 0) << said(p);
  const bundle::RootTool& helm = helm_of(b.path);
  for (const auto& repository : {std::string("ai-saas/charts/sealift-test-app"), std::string("ai-saas/library/postgres"),
                                 std::string("ai-saas/sealift/tools/helm")})
    EXPECT_FALSE(target.client().blob_exists(repository, helm.binary)) << repository;
  std::vector<std::string> tool_tags;
  try {
    tool_tags = target.tags("ai-saas/sealift/tools/helm");
  } catch (const Error&) {
  }
  EXPECT_TRUE(tool_tags.empty());
}

TEST(BundledHelm, VerifyRefusesAFlippedByteInTheBinary) {
  const auto& b = helm_bundle();
  const std::string entry = bundle::blob_path(helm_of(b.path).binary);
  // In the compressed frame (zstd's checksum catches it) and in the content (only its digest can).
  fs::path frame = scratch("flipped-frame.tar.zst"), content = scratch("flipped-content.tar.zst");
  testenv::flip_byte_in_entry(b.path, frame, entry);
  {
    std::string bytes = util::read_file(b.path);
    bundle::ArchiveReader reader(b.path);
    util::write_file_atomic(content, testenv::flip_content_byte(bytes, reader, entry, reader.find(entry)->size / 3));
  }
  for (const auto& tampered : {frame, content}) {
    RunResult r = install({"verify", tampered.string(), "--key", factory().public_key().string()});
    EXPECT_EQ(r.exit_code, 4) << tampered << "\n" << said(r);
    EXPECT_NE(r.err.find(entry), std::string::npos) << "the error should name " << entry << "\n" << said(r);
    // Nor does the installer run it.
    RunResult e = export_bundle(tampered, "tampered-out", {{"SEALIFT_HELM", ""}, {"PATH", path_with_helm()}});
    EXPECT_EQ(e.exit_code, 4) << said(e);
    EXPECT_EQ(e.out.find("using helm"), std::string::npos) << said(e);
  }
}

TEST(BundledHelm, VerifyRefusesAManifestThatCarriesAnotherBinary) {
  // sealift.json names another binary (and is signed again with the vendor's key): the tool's
  // manifest must carry exactly the binary sealift.json names.
  const auto& b = helm_bundle();
  std::string root_text = entry_text(b.path, "sealift.json");
  bundle::Root root = bundle::Root::parse(root_text);
  root.tools.front().binary = root.chart.package;
  std::string lie = root.serialize();
  sign::Secret password = sign::Secret::copy_of(factory().key_password());
  sign::PrivateKey key = sign::PrivateKey::from_file(factory().private_key(), password);
  io::MemorySource source(lie);
  fs::path out = scratch("other-binary.tar.zst");
  testenv::rewrite_bundle(b.path, out, {{"sealift.json", lie}, {"sealift.json.sig", sign::sign_blob(key, source)}});
  RunResult r = install({"verify", out.string(), "--key", factory().public_key().string()});
  EXPECT_EQ(r.exit_code, 4) << said(r);
  EXPECT_NE(r.err.find("does not carry the binary " + root.chart.package.str()), std::string::npos) << said(r);
}

TEST(BundledHelm, ExportRunsTheBundlesHelmWhenNoOtherIsGiven) {
  const auto& b = helm_bundle();
  RunResult r = export_bundle(b.path, "from-bundle", {{"SEALIFT_HELM", ""}, {"PATH", path_without_helm()}});
  ASSERT_EQ(r.exit_code, 0) << said(r);
  EXPECT_NE(r.out.find("using helm v3.21.4 (from the bundle)"), std::string::npos) << said(r);
  EXPECT_TRUE(fs::exists(scratch("from-bundle") / "manifests.yaml"));
  // --quiet says nothing.
  RunResult q = export_bundle(b.path, "from-bundle-quiet", {{"SEALIFT_HELM", ""}, {"PATH", path_without_helm()}}, {"--quiet"});
  ASSERT_EQ(q.exit_code, 0) << said(q);
  EXPECT_EQ(q.out, "");
  // --json: one document naming the files written.
  RunResult j = export_bundle(b.path, "from-bundle-json", {{"SEALIFT_HELM", ""}, {"PATH", path_without_helm()}}, {"--json"});
  ASSERT_EQ(j.exit_code, 0) << said(j);
  const auto written = nlohmann::json::parse(j.out);
  const fs::path dir = scratch("from-bundle-json");
  EXPECT_EQ(written.at("relocationValues"), (dir / "relocation-values.yaml").string());
  EXPECT_EQ(written.at("manifests"), (dir / "manifests.yaml").string());
  EXPECT_EQ(fs::path(written.at("chart").get<std::string>()).parent_path(), dir);
  for (const char* file : {"relocationValues", "manifests", "chart"})
    EXPECT_TRUE(fs::exists(written.at(file).get<std::string>())) << written;
  EXPECT_EQ(written.at("bundle").get<std::string>().rfind("sealift bundle ", 0), 0u) << written;
}

TEST(BundledHelm, TheUsersHelmWinsOverTheBundles) {
  const auto& b = helm_bundle();
  RunResult flag = export_bundle(b.path, "from-flag", {{"SEALIFT_HELM", ""}, {"PATH", path_without_helm()}},
                                 {"--helm", real_helm()});
  ASSERT_EQ(flag.exit_code, 0) << said(flag);
  EXPECT_NE(flag.out.find("using helm v3.21.4 at " + real_helm() + " (from --helm)"), std::string::npos) << said(flag);
  RunResult env = export_bundle(b.path, "from-env", {{"SEALIFT_HELM", real_helm()}, {"PATH", path_without_helm()}});
  ASSERT_EQ(env.exit_code, 0) << said(env);
  EXPECT_NE(env.out.find("(from SEALIFT_HELM)"), std::string::npos) << said(env);
  // A --helm that is not there fails before the bundle is read, even though the bundle has one.
  RunResult wrong = export_bundle(b.path, "from-nowhere", {{"SEALIFT_HELM", ""}}, {"--helm", "/nonexistent/helm"});
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(wrong.err.find("helm not found at /nonexistent/helm"), std::string::npos) << said(wrong);
}

TEST(BundledHelm, WithoutAnyHelmTheErrorSaysTheBundleHadNone) {
  RunResult r = export_bundle(full_bundle().path, "no-helm", {{"SEALIFT_HELM", ""}, {"PATH", path_without_helm()}});
  EXPECT_NE(r.exit_code, 0) << said(r);
  EXPECT_NE(r.err.find("helm not found in PATH, and the bundle carries no helm"), std::string::npos) << said(r);
  // With helm in PATH, the bundle without one is fine.
  RunResult p = export_bundle(full_bundle().path, "path-helm", {{"SEALIFT_HELM", ""}, {"PATH", path_with_helm()}});
  ASSERT_EQ(p.exit_code, 0) << said(p);
  EXPECT_NE(p.out.find("(from PATH)"), std::string::npos) << said(p);
}

TEST(BundledHelm, AHelmForAnotherPlatformFallsBackToPath) {
  const auto& b = arm64_helm_bundle();
  RunResult r = export_bundle(b.path, "arm64-path", {{"SEALIFT_HELM", ""}, {"PATH", path_with_helm()}});
  ASSERT_EQ(r.exit_code, 0) << said(r);
  EXPECT_NE(r.out.find("note: the bundle's helm is for linux/arm64, this host is linux/amd64; using helm from PATH"),
            std::string::npos)
      << said(r);
  EXPECT_NE(r.out.find("(from PATH)"), std::string::npos) << said(r);
  RunResult none = export_bundle(b.path, "arm64-none", {{"SEALIFT_HELM", ""}, {"PATH", path_without_helm()}});
  EXPECT_NE(none.exit_code, 0);
  EXPECT_NE(none.err.find("the bundle's helm is for linux/arm64, this host is linux/amd64"), std::string::npos)
      << said(none);
}

// A "helm" that is not helm 3 or 4 is refused before anything is pushed or installed, naming the
// binary and what it printed.
TEST(BundledHelm, AHelmThatIsNotHelm3Or4IsRefusedSayingWhatItPrinted) {
  RunResult r = export_bundle(full_bundle().path, "echo-helm", {{"SEALIFT_HELM", ""}}, {"--helm", "/bin/echo"});
  EXPECT_EQ(r.exit_code, static_cast<int>(ErrorKind::Tool)) << said(r);
  EXPECT_NE(r.err.find("/bin/echo does not look like helm 3 or 4"), std::string::npos) << said(r);
  EXPECT_NE(r.err.find(R"(printed "version --template {{.Version}}")"), std::string::npos) << said(r);
  EXPECT_FALSE(fs::exists(scratch("echo-helm") / "manifests.yaml"));
}

// A bundle may carry helm 4: the installer runs it, with helm 4's flags, and it installs with
// server-side apply (the Deployment's fields are managed by an Apply, not an Update).
TEST(BundledHelm, ABundleCarryingHelm4InstallsWithIt) {
  const std::string helm4 = fs::canonical(testenv::peer("helm4")).string();
  testenv::BundleSpec spec;
  spec.images = {"redis"};
  spec.include_helm = helm4;
  const auto b = factory().build(spec, scratch("with-helm4.tar.zst"));
  const bundle::RootTool& tool = helm_of(b.path);
  EXPECT_EQ(tool.version.rfind("v4.", 0), 0u) << tool.version;

  Target target;
  target.harbor().create_project("ai-saas");
  auto& cluster = testenv::Cluster::shared();
  const std::string ns = "bundled-helm4";
  auto env = target.env();
  for (const auto& [k, v] : cluster.env()) env[k] = v;
  env["SEALIFT_HELM"] = "";
  env["PATH"] = path_without_helm();
  RunResult r = install({"install", b.path.string(), "--key", factory().public_key().string(), "--registry",
                         target.host(), "--project", "ai-saas", "--plain-http", "-n", ns, "--kubeconfig",
                         cluster.kubeconfig().string(), "--timeout", "2m"},
                        env);
  ASSERT_EQ(r.exit_code, 0) << said(r);
  EXPECT_NE(r.out.find("using helm " + tool.version + " (from the bundle)"), std::string::npos) << said(r);
  EXPECT_NE(r.out.find("revision 1, deployed"), std::string::npos) << said(r);

  RunResult d = cluster.kubectl({"get", "deployments", "-n", ns, "-o", "json", "--show-managed-fields"});
  ASSERT_EQ(d.exit_code, 0) << said(d);
  const auto deployments = nlohmann::json::parse(d.out).at("items");
  ASSERT_EQ(deployments.size(), 1u) << d.out;
  bool applied = false;
  for (const auto& m : deployments[0]["metadata"]["managedFields"])
    applied |= m.value("manager", "") == "helm" && m.value("operation", "") == "Apply";
  EXPECT_TRUE(applied) << deployments[0]["metadata"]["managedFields"].dump();
  EXPECT_EQ(deployments[0]["spec"]["template"]["spec"]["containers"][0]["image"].get<std::string>().rfind(
                target.host() + "/ai-saas/", 0),
            0u);
}

TEST(BundledHelm, ExtractionChecksTheBytesAsTheyAreWritten) {
  const auto& b = helm_bundle();
  bundle::ArchiveReader reader(b.path);
  const bundle::RootTool& helm = helm_of(b.path);
  fs::path dir = scratch("extract");
  fs::create_directories(dir);

  fs::path path = extract_tool(reader, helm, dir);
  EXPECT_EQ(path, dir / "helm");
  struct stat st{};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  EXPECT_TRUE(util::read_file(path) == util::read_file(real_helm()));
  // Never over something already there.
  EXPECT_THROW(extract_tool(reader, helm, dir), Error);
  fs::remove(path);

  // Bytes that are not what sealift.json names are refused, and nothing is left to run: a wrong
  // size, and content altered after verification (one byte, the archive otherwise well-formed).
  fs::path other = dir / "other";
  fs::create_directories(other);
  bundle::RootTool shorter = helm;
  shorter.size = helm.size - 1;
  fs::path altered = scratch("altered-after-verify.tar.zst");
  const std::string entry = bundle::blob_path(helm.binary);
  util::write_file_atomic(altered, testenv::flip_content_byte(util::read_file(b.path), reader, entry, 12345));
  bundle::ArchiveReader altered_reader(altered);
  for (const auto& [r, t] : {std::pair{&reader, shorter}, std::pair{&altered_reader, helm}}) {
    try {
      extract_tool(*r, t, other);
      ADD_FAILURE() << "bytes that do not match were accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Integrity);
      EXPECT_NE(std::string(e.what()).find(entry), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(other / "helm"));
  }
}

}  // namespace
}  // namespace sealift::install::testing
