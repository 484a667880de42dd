// The test environment against independent tools: real docker-registry processes, the fixture
// generator's output read back with skopeo, umoci, gzip, tar and curl.

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "env/fixtures.h"
#include "env/registry.h"
#include "env/tls.h"
#include "oci/digest.h"
#include "util/fs.h"

namespace sealift::testenv {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// Small enough for a unit test (a few MB), large enough that every layer has real files.
const char* const kScale = "0.004";

std::string sha256(const std::string& bytes) { return oci::Digest::of(bytes).str(); }

// skopeo with the TLS trust and credentials a registry needs.
std::vector<std::string> skopeo_access(const Registry& r, const std::string& prefix = "") {
  std::vector<std::string> a;
  if (r.options().tls) {
    a = {"--" + prefix + "cert-dir", r.cert_dir().string()};
  } else {
    a = {"--" + prefix + "tls-verify=false"};
  }
  if (r.options().basic_auth) a.insert(a.end(), {"--" + prefix + "authfile", r.auth_file().string()});
  return a;
}

RunResult skopeo_inspect(const Registry& r, const std::string& ref, std::vector<std::string> flags,
                         const std::string& arch = "") {
  std::vector<std::string> argv = {"skopeo"};
  if (!arch.empty()) argv.insert(argv.end(), {"--override-os", "linux", "--override-arch", arch});
  argv.push_back("inspect");
  argv.insert(argv.end(), flags.begin(), flags.end());
  auto access = skopeo_access(r);
  argv.insert(argv.end(), access.begin(), access.end());
  argv.push_back("docker://" + r.host() + "/" + ref);
  return run(argv, {}, {}, 120);
}

std::string raw(const Registry& r, const std::string& ref) {
  RunResult res = skopeo_inspect(r, ref, {"--raw"});
  EXPECT_EQ(res.exit_code, 0) << ref << ": " << res.err;
  return res.out;
}

// HTTP status of GET url, via curl; credentials (if any) go through stdin, never argv.
int http_status(const std::string& url, const fs::path& ca, const std::string& user_colon_password = "",
                std::string* headers = nullptr) {
  std::vector<std::string> argv = {"curl", "-sS", "-o", "/dev/null", "-D", "-", "-w", "\n%{http_code}"};
  if (!ca.empty()) argv.insert(argv.end(), {"--cacert", ca.string()});
  std::string config;
  if (!user_colon_password.empty()) {
    argv.insert(argv.end(), {"-K", "-"});
    config = "user = \"" + user_colon_password + "\"\n";
  }
  argv.push_back(url);
  RunResult r = run(argv, {}, config, 30);
  if (headers) *headers = r.out;
  if (r.exit_code != 0) return -r.exit_code;
  return std::stoi(r.out.substr(r.out.rfind('\n') + 1));
}

bool process_alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  // Field 3, after "pid (comm)", is the state; a zombie is already dead.
  auto close_paren = line.rfind(')');
  return close_paren != std::string::npos && line.size() > close_paren + 2 && line[close_paren + 2] != 'Z';
}

bool wait_until_dead(pid_t pid, double seconds) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!process_alive(pid)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return !process_alive(pid);
}

std::string file_text(const fs::path& p) { return util::read_file(p); }

// Every file under dir, concatenated, except the docker config.json (which holds the credentials in
// the standard base64 form, like any docker login).
std::string all_files_except_auth(const fs::path& dir) {
  std::string all;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (e.is_regular_file() && e.path().filename() != "config.json") all += file_text(e.path());
  }
  return all;
}

std::vector<std::string> layer_digests(const std::string& manifest_bytes) {
  const json manifest = json::parse(manifest_bytes);
  std::vector<std::string> out;
  for (const auto& l : manifest.at("layers")) out.push_back(l.at("digest"));
  return out;
}

bool starts_with(const std::vector<std::string>& v, const std::vector<std::string>& prefix) {
  return prefix.size() < v.size() && std::equal(prefix.begin(), prefix.end(), v.begin());
}

// --- Registry ---------------------------------------------------------------------------------

TEST(Registry, ServesOnAFreePortAndComesBackOnTheSamePortAndStorageAfterACrash) {
  fs::path dir;
  pid_t pid = -1;
  {
    Registry r;
    dir = r.storage().parent_path();
    pid = r.pid();
    EXPECT_EQ(r.url(), "http://127.0.0.1:" + std::to_string(r.port()));
    EXPECT_EQ(http_status(r.url() + "/v2/", {}), 200);
    FixtureSet pushed = push_fixtures(r, {.scale = kScale, .only = {"busybox"}});
    const FixtureImage& busybox = pushed.image("busybox");
    EXPECT_EQ(sha256(raw(r, busybox.reference())), busybox.digest);

    r.kill();
    EXPECT_FALSE(r.running());
    EXPECT_FALSE(process_alive(pid));
    EXPECT_FALSE(wait_for_port(r.port(), 0.3)) << "nothing may answer on the port of a killed registry";

    const int port = r.port();
    r.start();
    EXPECT_TRUE(r.running());
    EXPECT_EQ(r.port(), port);
    EXPECT_NE(r.pid(), pid);
    pid = r.pid();
    EXPECT_EQ(sha256(raw(r, busybox.reference())), busybox.digest) << "storage must survive the restart";
  }
  EXPECT_TRUE(wait_until_dead(pid, 5)) << "the registry outlived its Registry object";
  EXPECT_FALSE(fs::exists(dir)) << "the registry left its directory behind";
}

TEST(Registry, DiesWithTheTestProcessEvenWhenThatIsKilled) {
  // A child process stands in for a crashing test: it starts a registry, reports its pid and
  // directory, and is then SIGKILLed, so no destructor runs.
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  pid_t test_process = fork();
  ASSERT_GE(test_process, 0);
  if (test_process == 0) {
    close(fds[0]);
    try {
      Registry r;
      std::string msg = std::to_string(r.pid()) + " " + r.storage().parent_path().string() + "\n";
      if (write(fds[1], msg.data(), msg.size()) != static_cast<ssize_t>(msg.size())) _exit(4);
      for (;;) pause();
    } catch (...) {
      _exit(3);
    }
  }
  close(fds[1]);
  std::string msg;
  char buf[512];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) {
    msg.append(buf, n);
    if (msg.find('\n') != std::string::npos) break;
  }
  close(fds[0]);
  std::istringstream in(msg);
  pid_t registry_pid = -1;
  std::string dir;
  in >> registry_pid >> dir;
  ASSERT_GT(registry_pid, 0) << "the child could not start a registry";
  EXPECT_TRUE(process_alive(registry_pid));

  kill(test_process, SIGKILL);
  int status = 0;
  waitpid(test_process, &status, 0);
  EXPECT_TRUE(wait_until_dead(registry_pid, 10)) << "registry " << registry_pid << " outlived its test process";
  fs::remove_all(dir);  // what a crashed process cannot clean up itself
}

TEST(Registry, BasicAuthOverTlsRefusesAnonymousAndAcceptsTheCredentials) {
  Registry r({.basic_auth = true, .tls = true});
  const std::string& pw = r.options().password;
  EXPECT_EQ(r.url(), "https://" + r.host());
  ASSERT_TRUE(fs::exists(r.ca_file()));
  EXPECT_EQ(fs::status(r.auth_file()).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);

  std::string headers;
  EXPECT_EQ(http_status(r.url() + "/v2/", r.ca_file(), "", &headers), 401);
  EXPECT_NE(headers.find("Basic realm=\"sealift-test-registry\""), std::string::npos) << headers;
  EXPECT_EQ(http_status(r.url() + "/v2/", r.ca_file(), r.options().user + ":wrong-password"), 401);
  EXPECT_EQ(http_status(r.url() + "/v2/", r.ca_file(), r.options().user + ":" + pw), 200);
  // Verification is real: without the throwaway CA, curl refuses the certificate (exit 60).
  EXPECT_EQ(http_status(r.url() + "/v2/", {}, r.options().user + ":" + pw), -60);

  FixtureSet pushed = push_fixtures(r, {.scale = kScale, .only = {"redis"}});
  EXPECT_EQ(pushed.json.find(pw), std::string::npos);
  const FixtureImage& redis = pushed.image("redis");
  EXPECT_EQ(sha256(raw(r, redis.reference())), redis.digest);

  // skopeo without credentials is refused.
  RunResult anon = run({"skopeo", "inspect", "--raw", "--cert-dir", r.cert_dir().string(), "--no-creds",
                        "docker://" + r.host() + "/" + redis.reference()});
  EXPECT_NE(anon.exit_code, 0);
  EXPECT_NE(anon.err.find("unauthorized"), std::string::npos) << anon.err;

  // The generator fails with a clear message, without echoing the password, when it is wrong.
  RunResult wrong = run({fixtures_program(), "push", "--scale", kScale, "--only", "busybox", "--registry", r.host(),
                         "--ca-file", r.ca_file().string(), "--user", r.options().user, "--password-env", "PW"},
                        {{"PW", "not-" + pw}});
  EXPECT_NE(wrong.exit_code, 0);
  EXPECT_NE(wrong.err.find("401"), std::string::npos) << wrong.err;
  EXPECT_EQ(wrong.err.find(pw), std::string::npos);
  RunResult none = run({fixtures_program(), "push", "--scale", kScale, "--only", "busybox", "--registry", r.host(),
                        "--ca-file", r.ca_file().string()});
  EXPECT_NE(none.exit_code, 0);
  EXPECT_NE(none.err.find("wants credentials"), std::string::npos) << none.err;

  EXPECT_EQ(all_files_except_auth(r.storage().parent_path()).find(pw), std::string::npos)
      << "the password must not appear in the registry's log, config or htpasswd file";
  EXPECT_FALSE(file_text(r.log()).empty()) << "the failed logins should have been logged (without the password)";
}

TEST(Registry, TokenAuthSendsTheHarborStyleBearerChallenge) {
  TempDir keys("sealift-token-keys");
  TestCertificates signer = make_test_certificates(keys.path());
  Registry r({.token_realm = "http://127.0.0.1:9/service/token", .token_rootcert = signer.ca_cert});
  std::string headers;
  EXPECT_EQ(http_status(r.url() + "/v2/", {}, "", &headers), 401);
  EXPECT_NE(headers.find("Bearer realm=\"http://127.0.0.1:9/service/token\",service=\"harbor-registry\""),
            std::string::npos)
      << headers;
}

// --- Fixtures ---------------------------------------------------------------------------------

// The acceptance test of the environment: two registries, one plain and one with TLS and Basic
// auth; two generator runs, one into each; skopeo reads back exactly the digests the generator
// reported, and the two runs agree on every digest.
TEST(Fixtures, TwoRunsIntoTwoRegistriesGiveTheSameWellFormedImages) {
  Registry plain;
  Registry secure({.basic_auth = true, .tls = true});
  FixtureSet first = push_fixtures(plain, {.scale = kScale});
  FixtureSet second = push_fixtures(secure, {.scale = kScale});

  const std::vector<std::string> expected_images = {
      "alpine", "debian", "busybox", "nginx", "python", "postgres", "redis", "fluent-bit", "prometheus",
      "ingress-nginx-controller", "frontend", "backend", "api-gateway", "workflow-orchestrator",
      "validation-service", "metadata-service", "content-service", "ai-service"};
  ASSERT_EQ(first.images.size(), expected_images.size());
  ASSERT_EQ(second.images.size(), expected_images.size());
  EXPECT_EQ(first.registry, plain.host());
  EXPECT_EQ(second.registry, secure.host());

  for (size_t i = 0; i < expected_images.size(); ++i) {
    const FixtureImage& a = first.images[i];
    const FixtureImage& b = second.images[i];
    SCOPED_TRACE(a.reference());
    EXPECT_EQ(a.name, expected_images[i]);
    EXPECT_EQ(a.digest, b.digest) << "the same scale must give the same index digest";

    for (const Registry* reg : {&plain, &secure}) {
      std::string index = raw(*reg, a.reference());
      EXPECT_EQ(sha256(index), a.digest);
      json ij = json::parse(index);
      EXPECT_EQ(ij.at("mediaType"), a.media_type);
      ASSERT_EQ(ij.at("manifests").size(), 2u);
      std::set<std::string> platforms;
      for (const auto& d : ij.at("manifests")) {
        platforms.insert(d.at("platform").at("os").get<std::string>() + "/" +
                         d.at("platform").at("architecture").get<std::string>());
      }
      EXPECT_EQ(platforms, (std::set<std::string>{"linux/amd64", "linux/arm64"}));
    }

    for (const std::string arch : {"amd64", "arm64"}) {
      const FixtureManifest& m = a.platform("linux/" + arch);
      EXPECT_EQ(m.digest, b.platform("linux/" + arch).digest);
      std::string manifest = raw(secure, a.repository + "@" + m.digest);
      EXPECT_EQ(sha256(manifest), m.digest);
      EXPECT_EQ(layer_digests(manifest), m.layers);

      RunResult cfg = skopeo_inspect(secure, a.repository + "@" + m.digest, {"--config", "--raw"});
      ASSERT_EQ(cfg.exit_code, 0) << cfg.err;
      EXPECT_EQ(sha256(cfg.out), m.config);
      json cj = json::parse(cfg.out);
      EXPECT_EQ(cj.at("os"), "linux");
      EXPECT_EQ(cj.at("architecture"), arch);
      EXPECT_EQ(cj.at("rootfs").at("diff_ids").get<std::vector<std::string>>(), m.diff_ids);

      // skopeo's own platform choice out of the index lands on the same manifest. (Its "Digest"
      // is the digest of the reference it was given: the index.)
      RunResult chosen = skopeo_inspect(plain, a.reference(), {}, arch);
      ASSERT_EQ(chosen.exit_code, 0) << chosen.err;
      json chj = json::parse(chosen.out);
      EXPECT_EQ(chj.at("Digest"), a.digest);
      EXPECT_EQ(chj.at("Architecture"), arch);
      EXPECT_EQ(chj.at("Layers").get<std::vector<std::string>>(), m.layers);
    }
  }
  EXPECT_EQ(first.blobs, second.blobs);
  EXPECT_EQ(first.bytes, second.bytes);
}

TEST(Fixtures, TheSameScaleGivesTheSameBytesAndAnotherScaleOtherSizes) {
  TempDir tmp("sealift-fixtures-test");
  FixtureSet a = generate_fixtures(tmp / "a", {.scale = kScale});
  FixtureSet b = generate_fixtures(tmp / "b", {.scale = kScale});
  EXPECT_EQ(a.json, b.json);
  EXPECT_EQ(file_text(tmp / "a" / "index.json"), file_text(tmp / "b" / "index.json"));

  FixtureSet twice = generate_fixtures(tmp / "c", {.scale = "0.008", .only = {"postgres"}});
  const auto& small = a.image("postgres").platform("linux/amd64");
  const auto& large = twice.image("postgres").platform("linux/amd64");
  EXPECT_NE(small.digest, large.digest);
  int64_t small_bytes = 0, large_bytes = 0;
  for (const auto& l : small.layers) small_bytes += fs::file_size(tmp / "a" / "blobs" / "sha256" / l.substr(7));
  for (const auto& l : large.layers) large_bytes += fs::file_size(tmp / "c" / "blobs" / "sha256" / l.substr(7));
  EXPECT_GT(large_bytes, small_bytes * 17 / 10);
  EXPECT_LT(large_bytes, small_bytes * 23 / 10);
}

TEST(Fixtures, BaseLayersAreSharedTheWayRealImagesShareThem) {
  Registry r;
  FixtureSet s = push_fixtures(r, {.scale = kScale});
  // Read the layer lists back from the registry rather than trusting the generator's summary.
  auto layers = [&](const std::string& name, const std::string& arch) {
    const FixtureImage& img = s.image(name);
    return layer_digests(raw(r, img.repository + "@" + img.platform("linux/" + arch).digest));
  };
  for (const std::string arch : {"amd64", "arm64"}) {
    SCOPED_TRACE(arch);
    EXPECT_TRUE(starts_with(layers("nginx", arch), layers("alpine", arch)));
    EXPECT_TRUE(starts_with(layers("frontend", arch), layers("nginx", arch)));
    EXPECT_TRUE(starts_with(layers("ingress-nginx-controller", arch), layers("alpine", arch)));
    EXPECT_TRUE(starts_with(layers("python", arch), layers("debian", arch)));
    EXPECT_TRUE(starts_with(layers("postgres", arch), layers("debian", arch)));
    EXPECT_TRUE(starts_with(layers("redis", arch), layers("debian", arch)));
    EXPECT_TRUE(starts_with(layers("prometheus", arch), layers("busybox", arch)));
    EXPECT_TRUE(starts_with(layers("backend", arch), layers("python", arch)));
    const auto python = layers("python", arch);
    const auto gateway = layers("api-gateway", arch);
    ASSERT_TRUE(starts_with(gateway, python));
    for (const std::string svc : {"workflow-orchestrator", "validation-service", "metadata-service",
                                  "content-service", "ai-service"}) {
      auto l = layers(svc, arch);
      ASSERT_TRUE(starts_with(l, python)) << svc;
      // The pipeline services share their common requirements layer, then differ.
      EXPECT_EQ(l[python.size()], gateway[python.size()]) << svc;
      EXPECT_NE(l.back(), gateway.back()) << svc;
    }
  }
  // Platform-specific layers differ between architectures; application code is the same blob.
  EXPECT_NE(layers("debian", "amd64"), layers("debian", "arm64"));
  EXPECT_NE(layers("alpine", "amd64"), layers("alpine", "arm64"));
  EXPECT_EQ(layers("backend", "amd64").back(), layers("backend", "arm64").back());
  EXPECT_EQ(layers("frontend", "amd64").back(), layers("frontend", "arm64").back());
}

// skopeo copies an image out of the registry into an OCI layout; gzip, tar and umoci then check
// every layer: real gzip tars, diff_ids equal to the digest of the uncompressed tar, and an
// unpacked root filesystem with the files and whiteouts real images have.
TEST(Fixtures, CopiedImagesUnpackWithUmociAndTheirDiffIdsMatch) {
  Registry r({.basic_auth = true, .tls = true});
  FixtureSet s = push_fixtures(r, {.scale = kScale, .only = {"backend", "prometheus"}});
  TempDir tmp("sealift-umoci-test");
  const fs::path layout = tmp / "layout";

  for (const std::string arch : {"amd64", "arm64"}) {
    for (const std::string name : {"backend", "prometheus"}) {
      const FixtureImage& img = s.image(name);
      const std::string tag = name + "-" + arch;
      std::vector<std::string> argv = {"skopeo", "--insecure-policy", "--override-os", "linux", "--override-arch",
                                       arch, "copy"};
      auto access = skopeo_access(r, "src-");
      argv.insert(argv.end(), access.begin(), access.end());
      argv.insert(argv.end(), {"docker://" + r.host() + "/" + img.reference(), "oci:" + layout.string() + ":" + tag});
      RunResult copy = run(argv, {}, {}, 300);
      ASSERT_EQ(copy.exit_code, 0) << copy.err;
    }
  }
  RunResult ls = run({"umoci", "ls", "--layout", layout.string()});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  for (const std::string tag : {"backend-amd64", "backend-arm64", "prometheus-amd64", "prometheus-arm64"}) {
    EXPECT_NE(ls.out.find(tag), std::string::npos) << ls.out;
  }

  // Independent diff_id check: gunzip every layer and hash the tar.
  const FixtureManifest& backend = s.image("backend").platform("linux/arm64");
  for (size_t i = 0; i < backend.layers.size(); ++i) {
    const fs::path blob = layout / "blobs" / "sha256" / backend.layers[i].substr(7);
    RunResult hash = run({"sh", "-c", "gzip -dc < \"$0\" | sha256sum", blob.string()});
    ASSERT_EQ(hash.exit_code, 0) << hash.err;
    EXPECT_EQ("sha256:" + hash.out.substr(0, 64), backend.diff_ids[i]) << "layer " << i;
    RunResult list = run({"tar", "-tzf", blob.string()});
    EXPECT_EQ(list.exit_code, 0) << list.err;
    EXPECT_FALSE(list.out.empty());
  }

  RunResult stat = run({"umoci", "stat", "--json", "--image", layout.string() + ":backend-arm64"});
  ASSERT_EQ(stat.exit_code, 0) << stat.err;
  EXPECT_EQ(json::parse(stat.out).at("history").size(), backend.layers.size() + 5) << "one entry per layer, "
                                                                                       "plus ENV and CMD steps";

  const fs::path bundle = tmp / "backend-arm64";
  RunResult unpack = run({"umoci", "unpack", "--rootless", "--image", layout.string() + ":backend-arm64", bundle.string()});
  ASSERT_EQ(unpack.exit_code, 0) << unpack.err;
  const fs::path rootfs = bundle / "rootfs";
  EXPECT_NE(file_text(rootfs / "etc/os-release").find("bookworm"), std::string::npos);
  EXPECT_NE(file_text(rootfs / "usr/local/bin/python3.12").find("aarch64-linux-gnu"), std::string::npos);
  EXPECT_EQ(fs::read_symlink(rootfs / "usr/local/bin/python"), "python3");
  EXPECT_EQ(file_text(rootfs / "app/VERSION"), "1.0.0\n");
  // The python layer deletes a file of the debian layer with a whiteout.
  EXPECT_TRUE(fs::exists(rootfs / "var/cache/debconf"));
  EXPECT_FALSE(fs::exists(rootfs / "var/cache/debconf/templates.dat-old"));
  json runtime = json::parse(file_text(bundle / "config.json"));
  // The runnable layer's entrypoint (it answers the chart's probes on a real node) comes first; the
  // image's own command follows as its ignored arguments.
  EXPECT_EQ(runtime.at("process").at("args"),
            json({"/sealift-run/busybox-static", "sh", "/sealift-run/serve", "8000", "python3", "/app/main.py"}));
  EXPECT_TRUE(fs::exists(rootfs / "sealift-run/busybox-static"));
  EXPECT_EQ(runtime.at("process").at("cwd"), "/app");

  const fs::path prom = tmp / "prometheus-amd64";
  unpack = run({"umoci", "unpack", "--rootless", "--image", layout.string() + ":prometheus-amd64", prom.string()});
  ASSERT_EQ(unpack.exit_code, 0) << unpack.err;
  EXPECT_EQ(file_text(prom / "rootfs/bin/prometheus"), "prometheus 2.54.1 linux/amd64\n");
  EXPECT_EQ(fs::read_symlink(prom / "rootfs/bin/sh"), "busybox");
}

// The generator's own layout, read by umoci. umoci 0.4 cannot pick a platform out of an index
// ("tag is ambiguous"), so the test tags each platform manifest in a second index.json that shares
// the generator's blobs.
TEST(Fixtures, TheGeneratedLayoutIsReadableByUmoci) {
  TempDir tmp("sealift-layout-test");
  FixtureSet s = generate_fixtures(tmp / "gen", {.scale = kScale, .only = {"frontend", "postgres"}});
  RunResult ls = run({"umoci", "ls", "--layout", (tmp / "gen").string()});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_EQ(ls.out, "library/postgres:16.4\nsealift/frontend:1.0.0\n");

  const fs::path view = tmp / "view";
  fs::create_directories(view);
  fs::create_symlink(tmp / "gen" / "blobs", view / "blobs");
  util::write_file_atomic(view / "oci-layout", file_text(tmp / "gen" / "oci-layout"));
  json index = {{"schemaVersion", 2}, {"manifests", json::array()}};
  for (const auto& img : s.images) {
    for (const auto& m : img.manifests) {
      index["manifests"].push_back({{"mediaType", m.media_type}, {"digest", m.digest}, {"size", m.size},
                                    {"annotations", {{"org.opencontainers.image.ref.name",
                                                      img.name + "-" + m.platform.substr(6)}}}});
    }
  }
  util::write_file_atomic(view / "index.json", index.dump());
  for (const std::string tag : {"frontend-amd64", "frontend-arm64", "postgres-amd64", "postgres-arm64"}) {
    const fs::path bundle = tmp / tag;
    RunResult unpack = run({"umoci", "unpack", "--rootless", "--image", view.string() + ":" + tag, bundle.string()});
    ASSERT_EQ(unpack.exit_code, 0) << tag << ": " << unpack.err;
  }
  EXPECT_NE(file_text(tmp / "frontend-arm64/rootfs/usr/share/nginx/html/index.html").find("sealift 1.0.0"),
            std::string::npos);
  EXPECT_NE(file_text(tmp / "frontend-arm64/rootfs/etc/alpine-release").find("3.20"), std::string::npos);
  EXPECT_TRUE(fs::exists(tmp / "frontend-amd64/rootfs/lib/ld-musl-x86_64.so.1"));
  EXPECT_TRUE(fs::exists(tmp / "frontend-arm64/rootfs/lib/ld-musl-aarch64.so.1"));
  EXPECT_NE(file_text(tmp / "postgres-amd64/rootfs/usr/lib/postgresql/16/bin/postgres").find("x86_64-linux-gnu"),
            std::string::npos);
}

TEST(Fixtures, ReleaseTwoChangesOnlyTheBackendTopLayer) {
  Registry r;
  FixtureSet one = push_fixtures(r, {.scale = kScale});
  FixtureSet two = push_fixtures(r, {.scale = kScale, .release = 2});
  ASSERT_EQ(one.images.size(), two.images.size());
  for (size_t i = 0; i < one.images.size(); ++i) {
    if (one.images[i].name == "backend") continue;
    EXPECT_EQ(one.images[i].digest, two.images[i].digest) << one.images[i].name;
  }
  const FixtureImage& b1 = one.image("backend");
  const FixtureImage& b2 = two.image("backend");
  EXPECT_EQ(b1.tag, "1.0.0");
  EXPECT_EQ(b2.tag, "1.1.0");
  EXPECT_NE(b1.digest, b2.digest);
  for (const std::string p : {"linux/amd64", "linux/arm64"}) {
    const auto& l1 = b1.platform(p).layers;
    const auto& l2 = b2.platform(p).layers;
    ASSERT_EQ(l1.size(), l2.size());
    EXPECT_TRUE(std::equal(l1.begin(), l1.end() - 1, l2.begin())) << "all but the top layer are shared";
    EXPECT_NE(l1.back(), l2.back());
  }
  // Both releases' tags live side by side in the registry.
  EXPECT_EQ(sha256(raw(r, "sealift/backend:1.0.0")), b1.digest);
  EXPECT_EQ(sha256(raw(r, "sealift/backend:1.1.0")), b2.digest);
}

TEST(Fixtures, PrefixMirrorsThePathsUnderAnotherRoot) {
  Registry r;
  FixtureSet s = push_fixtures(r, {.scale = kScale, .only = {"ingress-nginx-controller"}, .prefix = "mirror"});
  const FixtureImage& c = s.image("ingress-nginx-controller");
  EXPECT_EQ(c.reference(), "mirror/ingress-nginx/controller:v1.11.2");
  EXPECT_EQ(c.source, "registry.k8s.io/ingress-nginx/controller:v1.11.2");
  EXPECT_EQ(c.media_type, "application/vnd.docker.distribution.manifest.list.v2+json");
  EXPECT_EQ(sha256(raw(r, c.reference())), c.digest);
}

// scripts/bench.sh's big-bundle set, at 20 MB: three two-platform images, half the bytes in one
// layer that both platforms of big-model share, incompressible content in valid gzip layers whose
// diff_ids match, and the same bytes for the same size.
TEST(Fixtures, TheBigSetHasHalfItsBytesInOneSharedLayer) {
  TempDir tmp("sealift-fixtures-big");
  FixtureSet s = generate_fixtures(tmp / "a", {.big = "0.02"});
  ASSERT_EQ(s.images.size(), 3u);
  EXPECT_GT(s.bytes, 19'500'000);
  EXPECT_LT(s.bytes, 20'500'000);
  const fs::path blobs = tmp / "a" / "blobs" / "sha256";
  auto blob = [&](const std::string& digest) { return blobs / digest.substr(std::string("sha256:").size()); };
  for (const FixtureImage& img : s.images) {
    ASSERT_EQ(img.manifests.size(), 2u) << img.name;
    EXPECT_EQ(img.manifests[0].platform, "linux/amd64");
    EXPECT_EQ(img.manifests[1].platform, "linux/arm64");
    for (const FixtureManifest& m : img.manifests) {
      const json manifest = json::parse(file_text(blob(m.digest)));
      ASSERT_EQ(m.layers.size(), m.diff_ids.size());
      for (size_t i = 0; i < m.layers.size(); ++i) {
        EXPECT_EQ(manifest.at("layers").at(i).at("mediaType"), "application/vnd.oci.image.layer.v1.tar+gzip");
        RunResult tar = run({"gzip", "-dc", blob(m.layers[i]).string()});
        ASSERT_EQ(tar.exit_code, 0) << tar.err;
        EXPECT_EQ(sha256(tar.out), m.diff_ids[i]) << img.name << " " << m.platform << " layer " << i;
      }
    }
  }
  const FixtureImage& model = s.image("big-model");
  const std::string weights = model.platform("linux/amd64").layers.back();
  EXPECT_EQ(model.platform("linux/arm64").layers.back(), weights) << "the weights are the same on both platforms";
  const auto weights_size = static_cast<int64_t>(fs::file_size(blob(weights)));
  EXPECT_GT(weights_size, s.bytes * 49 / 100);
  EXPECT_LT(weights_size, s.bytes * 52 / 100);
  RunResult packed = run({"zstd", "-q", "-c", "-3", blob(weights).string()});
  ASSERT_EQ(packed.exit_code, 0) << packed.err;
  EXPECT_GT(static_cast<int64_t>(packed.out.size()), weights_size * 99 / 100) << "incompressible";

  FixtureSet again = generate_fixtures(tmp / "b", {.big = "0.02"});
  ASSERT_EQ(again.images.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(again.images[i].digest, s.images[i].digest) << s.images[i].name;
  RunResult bad = run({fixtures_program(), "gen", "--big", "0", "--out", (tmp / "c").string()});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("--big \"0\""), std::string::npos) << bad.err;
}

TEST(Fixtures, BadInputGetsAClearError) {
  TempDir tmp("sealift-fixtures-bad");
  RunResult r = run({fixtures_program(), "gen", "--scale", "0", "--out", (tmp / "x").string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("--scale \"0\""), std::string::npos) << r.err;
  r = run({fixtures_program(), "gen", "--only", "postgres,mysql", "--out", (tmp / "x").string()});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("unknown fixture image(s) mysql"), std::string::npos) << r.err;
  r = run({fixtures_program(), "push", "--from", (tmp / "nowhere").string(), "--registry", "127.0.0.1:1"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("is not a layout written by"), std::string::npos) << r.err;
  r = run({fixtures_program(), "push", "--registry", "127.0.0.1:1", "--password-env", "SEALIFT_UNSET_VARIABLE"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("SEALIFT_UNSET_VARIABLE is not set"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace sealift::testenv
