// `sealift-bundle kit`, as a vendor runs it, and the kit's README.txt, as a site runs it: a real
// bundle from the vendor's build, an installer tarball packing this build's sealift-install (the
// portable release tarball is made by scripts/release.sh; its bullseye run is in that suite), the
// openssl and sha256sum commands taken from README.txt word for word.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "env/bundles.h"
#include "env/process.h"
#include "io/stream.h"
#include "kit/kit.h"
#include "sign/blob.h"
#include "sign/key.h"
#include "util/fs.h"

namespace sealift::kit {
namespace {

namespace fs = std::filesystem;
using testenv::RunResult;
using testenv::run;

testenv::BundleFactory& factory() {
  static testenv::BundleFactory f;
  return f;
}

const testenv::BuiltBundle& small_bundle() {
  static const testenv::BuiltBundle b = [] {
    testenv::BundleSpec spec;
    spec.images = {"redis"};
    return factory().build(spec, factory().dir() / "app-1.0.0.tar.zst");
  }();
  return b;
}

// A release tarball as scripts/release.sh lays it out, with this build's sealift-install.
const fs::path& installer_tarball() {
  static const fs::path t = [] {
    fs::path stage = factory().dir() / "stage";
    fs::path top = stage / "sealift-0.1.0-linux-amd64";
    fs::create_directories(top);
    fs::copy_file(testenv::install_program(), top / "sealift-install", fs::copy_options::overwrite_existing);
    util::write_file_atomic(top / "INSTALL", "copy sealift-install to /usr/local/bin\n");
    fs::path tarball = factory().dir() / "sealift-0.1.0-linux-amd64.tar.gz";
    // gzip -1: the test build's program is large, and the kit does not care how well it is packed.
    RunResult r = run({"tar", "-C", stage.string(), "-I", "gzip -1", "-cf", tarball.string(), "sealift-0.1.0-linux-amd64"});
    if (r.exit_code != 0) throw std::runtime_error("tar: " + r.err);
    return tarball;
  }();
  return t;
}

RunResult kit(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {testenv::bundle_program(), "kit", "--key", factory().private_key().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, {{"COSIGN_PASSWORD", factory().key_password()}});
}

// The lines of README.txt that start with `prefix` after the indentation: the commands as written.
std::string command_in_readme(const fs::path& kit_dir, const std::string& prefix) {
  std::istringstream in(util::read_file(kit_dir / "README.txt"));
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("    " + prefix, 0) == 0) return line.substr(4);
  ADD_FAILURE() << "README.txt has no command starting with " << prefix;
  return "false";
}

// Steps 1 and 2 of README.txt, run in the kit's directory as the site runs them.
RunResult check_as_site(const fs::path& kit_dir) {
  std::string script = "set -e; cd \"$1\"; " + command_in_readme(kit_dir, "openssl") + "; " +
                       command_in_readme(kit_dir, "sha256sum -c");
  return run({"bash", "-c", script, "check", kit_dir.string()});
}

void flip_byte(const fs::path& file, uint64_t at) {
  std::fstream f(file, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(at));
  char c = 0;
  f.get(c);
  f.seekp(static_cast<std::streamoff>(at));
  f.put(static_cast<char>(c ^ 0x01));
}

TEST(Kit, TheSiteChecksItWithReadmesCommandsAndAFlippedByteAnywhereIsCaught) {
  const auto& b = small_bundle();
  testenv::TempDir out("sealift-kit");
  fs::path dir = out / "media";
  RunResult r = kit({"--installer", installer_tarball().string(), "-o", dir.string(), b.path.string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << said(r);
  nlohmann::json j = nlohmann::json::parse(r.out);
  const std::vector<std::string> files = {"README.txt", "SHA256SUMS", "SHA256SUMS.sig", "app-1.0.0.tar.zst", "cosign.pub",
                                          "sealift-0.1.0-linux-amd64.tar.gz"};
  EXPECT_EQ(j["files"].get<std::vector<std::string>>(), files);
  EXPECT_EQ(j["installers"][0]["program"], "sealift-0.1.0-linux-amd64/sealift-install");
  EXPECT_EQ(j["installers"][0]["platform"], "linux/amd64");
  std::vector<std::string> listed;
  for (const auto& e : fs::directory_iterator(dir)) listed.push_back(e.path().filename().string());
  std::sort(listed.begin(), listed.end());
  EXPECT_EQ(listed, files) << "exactly the kit, no temporary file";
  EXPECT_EQ(std::distance(fs::directory_iterator(out.path()), fs::directory_iterator()), 1) << "no temporary directory left";
  EXPECT_EQ(util::read_file(dir / "cosign.pub"), util::read_file(factory().public_key()));
  std::string sums = util::read_file(dir / "SHA256SUMS");
  for (const auto& f : files) {
    if (f != "SHA256SUMS" && f != "SHA256SUMS.sig") {
      EXPECT_NE(sums.find("  " + f + "\n"), std::string::npos) << f;
    }
  }
  std::string readme = util::read_file(dir / "README.txt");
  EXPECT_NE(readme.find(sign::PublicKey::from_file(factory().public_key()).fingerprint()), std::string::npos) << readme;
  EXPECT_NE(readme.find("sealift-0.1.0-linux-amd64/sealift-install install app-1.0.0.tar.zst --key cosign.pub"),
            std::string::npos)
      << readme;

  RunResult site = check_as_site(dir);
  ASSERT_EQ(site.exit_code, 0) << said(site);
  EXPECT_NE(site.out.find("Verified OK\n"), std::string::npos) << said(site);
  EXPECT_NE(site.out.find("app-1.0.0.tar.zst: OK\n"), std::string::npos) << said(site);
  EXPECT_EQ(run({testenv::install_program(), "verify-blob", "--key", (dir / "cosign.pub").string(), "--signature",
                 (dir / "SHA256SUMS.sig").string(), (dir / "SHA256SUMS").string()})
                .exit_code,
            0);

  // Steps 3 and 4 in a copy: the unpacked program verifies the bundle with the kit's key.
  fs::path copy = out / "site";
  fs::copy(dir, copy);
  RunResult unpack = run({"bash", "-c", "cd \"$1\" && " + command_in_readme(copy, "tar -xf"), "unpack", copy.string()});
  ASSERT_EQ(unpack.exit_code, 0) << said(unpack);
  RunResult verify = run({(copy / "sealift-0.1.0-linux-amd64" / "sealift-install").string(), "verify",
                          (copy / "app-1.0.0.tar.zst").string(), "--key", (copy / "cosign.pub").string(), "--quiet"});
  EXPECT_EQ(verify.exit_code, 0) << said(verify);

  for (const auto& f : files) {
    SCOPED_TRACE(f);
    uint64_t at = fs::file_size(dir / f) / 2;
    flip_byte(dir / f, at);
    EXPECT_NE(check_as_site(dir).exit_code, 0) << "a flipped byte in " << f << " went unnoticed";
    flip_byte(dir / f, at);
  }
  EXPECT_EQ(check_as_site(dir).exit_code, 0) << "the kit is whole again";
}

TEST(Kit, ASplitBundleTravelsAsItsParts) {
  testenv::BundleSpec spec;
  spec.images = {"redis"};
  spec.split_size = "256K";
  auto b = factory().build(spec, factory().dir() / "split.tar.zst");
  ASSERT_GT(b.files.size(), 2u);
  testenv::TempDir out("sealift-kit");
  fs::path dir = out / "media";
  RunResult r = kit({"--installer", installer_tarball().string(), "-o", dir.string(), b.path.string(), "--quiet"});
  ASSERT_EQ(r.exit_code, 0) << said(r);
  EXPECT_EQ(r.out, "");
  for (const auto& part : b.files) EXPECT_TRUE(fs::exists(dir / part.filename())) << part;
  EXPECT_NE(util::read_file(dir / "README.txt").find("install split.tar.zst.000 --key cosign.pub"), std::string::npos);
  RunResult site = check_as_site(dir);
  EXPECT_EQ(site.exit_code, 0) << said(site);
}

TEST(Kit, RefusesWhatWouldMakeABadKitAndLeavesNothing) {
  const auto& b = small_bundle();
  testenv::TempDir out("sealift-kit");
  auto nothing_left = [&](const std::string& what) {
    std::vector<std::string> left;
    for (const auto& e : fs::directory_iterator(out.path())) left.push_back(e.path().filename().string());
    EXPECT_TRUE(left.empty() || left == std::vector<std::string>{"busy"}) << what << ": " << ::testing::PrintToString(left);
  };

  fs::create_directories(out / "busy");
  util::write_file_atomic(out / "busy" / "old.txt", "something\n");
  RunResult busy = kit({"--installer", installer_tarball().string(), "-o", (out / "busy").string(), b.path.string()});
  EXPECT_EQ(busy.exit_code, 2) << said(busy);
  EXPECT_NE(busy.err.find("exists and is not an empty directory"), std::string::npos) << said(busy);
  EXPECT_EQ(std::distance(fs::directory_iterator(out / "busy"), fs::directory_iterator()), 1);

  RunResult not_tar = kit({"--installer", factory().public_key().string(), "-o", (out / "k").string(), b.path.string()});
  EXPECT_EQ(not_tar.exit_code, 3) << said(not_tar);
  EXPECT_NE(not_tar.err.find("--installer " + factory().public_key().string() + ": not a tarball"), std::string::npos)
      << said(not_tar);
  nothing_left("not a tarball");

  fs::path empty_stage = out / "stage";
  fs::create_directories(empty_stage / "sealift-0.1.0-linux-amd64");
  util::write_file_atomic(empty_stage / "sealift-0.1.0-linux-amd64" / "sealift-bundle", "#!/bin/sh\n");
  fs::path no_program = factory().dir() / "no-installer.tar.gz";
  ASSERT_EQ(run({"tar", "-C", empty_stage.string(), "-czf", no_program.string(), "sealift-0.1.0-linux-amd64"}).exit_code, 0);
  fs::remove_all(empty_stage);
  RunResult missing = kit({"--installer", no_program.string(), "-o", (out / "k").string(), b.path.string()});
  EXPECT_EQ(missing.exit_code, 3) << said(missing);
  EXPECT_NE(missing.err.find("it holds no sealift-install"), std::string::npos) << said(missing);
  nothing_left("no sealift-install");

  // The kit's key must be the bundle's: the site checks both with the one cosign.pub.
  fs::path other = factory().other_key("kit");
  RunResult wrong = run({testenv::bundle_program(), "kit", "--key", (other.parent_path() / "cosign.key").string(),
                         "--installer", installer_tarball().string(), "-o", (out / "k").string(), b.path.string()},
                        {{"COSIGN_PASSWORD", factory().key_password()}});
  EXPECT_EQ(wrong.exit_code, 4) << said(wrong);
  EXPECT_NE(wrong.err.find("the bundle is not signed by the key"), std::string::npos) << said(wrong);
  nothing_left("another key");
}

// An Ed25519 key signs the file itself, not its digest: README.txt then gives openssl's pkeyutl
// line, which accepts the signature and rejects a changed file.
TEST(Kit, ReadmesOpensslLineForAnEd25519Key) {
  testenv::TempDir dir("sealift-kit-ed25519");
  const sign::PrivateKey key = sign::PrivateKey::generate(sign::KeyType::Ed25519);
  util::write_file_atomic(dir / "cosign.pub", key.public_key().pem());
  const std::string sums = std::string(64, 'a') + "  app.tar.zst\n";
  util::write_file_atomic(dir / "SHA256SUMS", sums);
  io::MemorySource content(sums);
  util::write_file_atomic(dir / "SHA256SUMS.sig", sign::sign_blob(key, content));
  util::write_file_atomic(dir / "README.txt", readme("app.tar.zst", {}, key.public_key()));
  std::string script = "cd \"$1\" && " + command_in_readme(dir.path(), "openssl");
  RunResult good = run({"bash", "-c", script, "check", dir.path().string()});
  EXPECT_EQ(good.exit_code, 0) << said(good);
  EXPECT_NE(util::read_file(dir / "README.txt").find("(prints \"" + good.out.substr(0, good.out.find('\n')) + "\")"),
            std::string::npos)
      << "README.txt says what openssl prints: " << good.out;
  util::write_file_atomic(dir / "SHA256SUMS", std::string(64, 'b') + "  app.tar.zst\n");
  EXPECT_NE(run({"bash", "-c", script, "check", dir.path().string()}).exit_code, 0);
}

}  // namespace
}  // namespace sealift::kit
