// Secrets never leak (issue 9): every command of both programs runs with known secrets — key
// passwords (COSIGN_PASSWORD, --password-file), registry passwords (--password-stdin, the
// environment, a docker config), a Harbor robot secret, the Bearer tokens of the Harbor-like token
// service — on success and failure paths (wrong password, 401, 403), with machine-readable
// progress (--json) where a command has it (neither program has a verbose or debug mode). Then
// stdout, stderr, every file under the scratch tree the commands use as HOME, TMPDIR, cache and
// output (bundles decompressed entry by entry), the target's and the upstream's logs, and the argv
// and environment helm was started with are searched for each secret, its base64, and the base64
// of user:password.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "bundle/archive_reader.h"
#include "env/bundles.h"
#include "env/cluster.h"
#include "env/fixture_lock.h"
#include "env/harbor.h"
#include "env/process.h"
#include "harbor/api.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/fs.h"

namespace sealift {
namespace {

namespace fs = std::filesystem;
using testenv::RunResult;

const std::string kKeyPassword = "key-pw-Q7x2VtR9";          // COSIGN_PASSWORD
const std::string kKeyFilePassword = "keyfile-pw-M4p8ZsW1";  // --password-file
const std::string kUpstreamPassword = "upstream-pw-H3k6YdN5";
const std::string kAdminPassword = "harbor-pw-B9c1LfT7";
// Every Bearer token the token service issues is a JWT: base64url of {"alg": ...} starts so.
const std::string kJwtStart = "eyJhbGciOi";

class Secrets {
 public:
  // The secret, and its base64 (what a careless dump of a config or header would show).
  void add(const std::string& label, const std::string& value) {
    known_.push_back({label, value});
    known_.push_back({label + " (base64)", util::base64_encode(value)});
  }
  void add_login(const std::string& label, const std::string& user, const std::string& password) {
    add(label, password);
    known_.push_back({label + " (base64 of user:password)", util::base64_encode(user + ":" + password)});
  }
  void add_raw(const std::string& label, const std::string& value) { known_.push_back({label, value}); }

  // Labels of the secrets found in `text`.
  std::vector<std::string> in(std::string_view text) const {
    std::vector<std::string> found;
    for (const auto& [label, value] : known_)
      if (text.find(value) != std::string_view::npos) found.push_back(label);
    return found;
  }

  void expect_clean(const RunResult& r, const std::string& what) const {
    for (const auto& label : in(r.out)) ADD_FAILURE() << what << ": stdout holds " << label << "\n" << said(r);
    for (const auto& label : in(r.err)) ADD_FAILURE() << what << ": stderr holds " << label << "\n" << said(r);
  }

  // Every regular file under `root` but `exempt` (the files the test itself put secrets in); a
  // bundle is searched as its file and as each decompressed entry.
  void expect_tree_clean(const fs::path& root, const std::set<fs::path>& exempt, const std::string& what) const {
    size_t files = 0;
    for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied);
         it != fs::recursive_directory_iterator(); ++it) {
      if (!it->is_regular_file() || it->is_symlink() || exempt.count(it->path())) continue;
      ++files;
      expect_file_clean(it->path(), what);
    }
    EXPECT_GT(files, 0u) << what << ": nothing was searched under " << root;
  }

  void expect_file_clean(const fs::path& file, const std::string& what) const {
    std::string bytes = util::read_file(file);
    for (const auto& label : in(bytes)) ADD_FAILURE() << what << ": " << file << " holds " << label;
    if (bytes.size() < 4 || bytes.compare(0, 4, "\x28\xb5\x2f\xfd") != 0 || file.extension() == ".001") return;
    try {
      bundle::ArchiveReader reader(file);
      for (const auto& e : reader.entries())
        for (const auto& label : in(reader.read_small(e.name, 1ull << 30)))
          ADD_FAILURE() << what << ": entry " << e.name << " of " << file << " holds " << label;
    } catch (const Error&) {
      // A part of a split bundle, or not a bundle: searched as bytes above.
    }
  }

 private:
  std::vector<std::pair<std::string, std::string>> known_;
};

// A scratch tree that stands for the user's machine: HOME, TMPDIR, the blob cache and the docker
// config all live in it, so whatever a command leaves behind is searched.
class Machine {
 public:
  Machine() : dir_("sealift-secrets") {
    for (const char* d : {"home", "tmp", "cache", "docker", "out", "bin"}) fs::create_directories(dir_ / d);
    // helm as sealift starts it: its argv and environment are recorded for the search.
    const fs::path wrapper = dir_ / "bin/helm";
    util::write_file_atomic(wrapper,
                            "#!/bin/sh\n{ echo \"argv: $*\"; env; } >> '" + (dir_ / "out/helm-started-with.txt").string() +
                                "'\nexec '" + testenv::peer("helm") + "' \"$@\"\n",
                            0755);
  }
  fs::path operator/(const std::string& name) const { return dir_ / name; }
  const fs::path& root() const { return dir_.path(); }
  std::string helm() const { return (dir_ / "bin/helm").string(); }

  // A file the test writes a secret into on purpose (exempt from the search).
  fs::path secret_file(const std::string& name, const std::string& content) {
    fs::path p = dir_ / name;
    util::write_file_atomic(p, content, 0600);
    exempt_.insert(p);
    return p;
  }
  // A docker config holding `user:password` for `host` (exempt from the search).
  void docker_login(const std::string& host, const std::string& user, const std::string& password) {
    nlohmann::json config;
    config["auths"][host]["auth"] = util::base64_encode(user + ":" + password);
    secret_file("docker/config.json", config.dump());
  }
  const std::set<fs::path>& exempt() const { return exempt_; }

  std::map<std::string, std::string> env(std::map<std::string, std::string> more = {}) const {
    more.emplace("HOME", (dir_ / "home").string());
    more.emplace("TMPDIR", (dir_ / "tmp").string());
    more.emplace("XDG_CACHE_HOME", (dir_ / "cache").string());
    more.emplace("DOCKER_CONFIG", (dir_ / "docker").string());
    more.emplace("SEALIFT_HELM", helm());
    return more;
  }

 private:
  testenv::TempDir dir_;
  std::set<fs::path> exempt_;
};

std::map<std::string, std::string> with_env(std::map<std::string, std::string> a, const std::map<std::string, std::string>& b) {
  a.insert(b.begin(), b.end());
  return a;
}

RunResult bundler(const Machine& m, std::vector<std::string> args, std::map<std::string, std::string> env = {},
                  const std::string& stdin_data = {}) {
  args.insert(args.begin(), testenv::bundle_program());
  return testenv::run(args, m.env(std::move(env)), stdin_data);
}

RunResult installer(const Machine& m, std::vector<std::string> args, std::map<std::string, std::string> env = {},
                    const std::string& stdin_data = {}) {
  args.insert(args.begin(), testenv::install_program());
  return testenv::run(args, m.env(std::move(env)), stdin_data, 900);
}

// The vendor side: keygen, lock, lint, build, inspect, with an upstream behind Basic auth.
TEST(Secrets, TheVendorsCommandsLeakNoPasswordAnywhere) {
  testenv::RegistryOptions upstream_options;
  upstream_options.basic_auth = true;
  upstream_options.password = kUpstreamPassword;
  testenv::BundleFactory factory("0.01", upstream_options);
  testenv::BundleSpec spec;
  spec.images = {"redis", "frontend"};
  auto made = factory.build(spec, factory.dir() / "seed.tar.zst");
  const std::string host = factory.upstream().host();
  const std::string user = upstream_options.user;

  Machine m;
  Secrets secrets;
  secrets.add("the key password (COSIGN_PASSWORD)", kKeyPassword);
  secrets.add("the key password (--password-file)", kKeyFilePassword);
  secrets.add_login("the upstream registry password", user, kUpstreamPassword);
  secrets.add("the test vendor key password", factory.key_password());
  std::vector<std::pair<std::string, RunResult>> runs;
  auto expect_ok = [&](const std::string& what, const RunResult& r) {
    EXPECT_EQ(r.exit_code, 0) << what << "\n" << said(r);
    runs.emplace_back(what, r);
  };
  auto expect_fails = [&](const std::string& what, const RunResult& r, const std::string& names) {
    EXPECT_NE(r.exit_code, 0) << what << "\n" << said(r);
    EXPECT_NE(r.err.find(names), std::string::npos) << what << " should say " << names << "\n" << said(r);
    runs.emplace_back(what, r);
  };

  const fs::path keyfile_password = m.secret_file("key-password.txt", kKeyFilePassword + "\n");
  const fs::path wrong_password = m.secret_file("wrong-password.txt", "not-the-password\n");
  expect_ok("keygen (COSIGN_PASSWORD)",
            bundler(m, {"keygen", "--dir", (m / "out/keys").string()}, {{"COSIGN_PASSWORD", kKeyPassword}}));
  expect_ok("keygen (--password-file)",
            bundler(m, {"keygen", "--dir", (m / "out/keys2").string(), "--password-file", keyfile_password.string()}));
  expect_fails("keygen over an existing key",
               bundler(m, {"keygen", "--dir", (m / "out/keys").string()}, {{"COSIGN_PASSWORD", kKeyPassword}}),
               "--force");
  // The encrypted private key is 0600; the password is not in it, in any form.
  EXPECT_EQ(fs::status(m / "out/keys/cosign.key").permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);

  auto mirrors = testenv::mirror_flags(host);
  auto with = [&](std::vector<std::string> args, std::vector<std::string> more) {
    args.insert(args.end(), more.begin(), more.end());
    return args;
  };
  const std::vector<std::string> source = with({"--plain-http"}, mirrors);
  const std::string chart = made.chart_dir.string();
  const fs::path lock = m / "out/images.lock";
  const std::map<std::string, std::string> env_login = {{"SEALIFT_REGISTRY_USER", user},
                                                        {"SEALIFT_REGISTRY_PASSWORD", kUpstreamPassword}};

  expect_ok("lock (password in the environment)",
            bundler(m, with({"lock", "--chart", chart, "--lock", lock.string()}, source), env_login));
  expect_ok("lock --check (--password-stdin)",
            bundler(m, with({"lock", "--chart", chart, "--lock", lock.string(), "--check", "--username", user, "--password-stdin"}, source),
                    {}, kUpstreamPassword + "\n"));
  expect_fails("lock with a wrong password (401)",
               bundler(m, with({"lock", "--chart", chart, "--lock", (m / "out/wrong.lock").string()}, source),
                       {{"SEALIFT_REGISTRY_USER", user}, {"SEALIFT_REGISTRY_PASSWORD", "wrong-" + kUpstreamPassword.substr(0, 4)}}),
               "401");
  expect_ok("lint", bundler(m, {"lint", "--chart", chart, "--lock", lock.string()}, with_env(env_login, {{"COSIGN_PASSWORD", kKeyPassword}})));

  const std::vector<std::string> build_cold = with({"build", "--chart", chart, "--lock", lock.string(), "--json"}, source);
  const std::vector<std::string> build = with(build_cold, {"--cache", (m / "cache/blobs").string()});
  const std::string key = (m / "out/keys/cosign.key").string();
  const std::string key2 = (m / "out/keys2/cosign.key").string();
  const std::string bundle = (m / "out/b1.tar.zst").string();
  expect_ok("build (COSIGN_PASSWORD, registry password in the environment)",
            bundler(m, with(build, {"--key", key, "-o", bundle}), with_env(env_login, {{"COSIGN_PASSWORD", kKeyPassword}})));
  expect_ok("build (--password-file, --password-stdin, split)",
            bundler(m,
                    with(build, {"--key", key2, "--password-file", keyfile_password.string(), "-o",
                                 (m / "out/b2.tar.zst").string(), "--split-size", "1M", "--username", user,
                                 "--password-stdin"}),
                    {}, kUpstreamPassword + "\n"));
  m.docker_login(host, user, kUpstreamPassword);
  expect_ok("build (credentials from the docker config)",
            bundler(m, with(build, {"--key", key, "-o", (m / "out/b3.tar.zst").string()}), {{"COSIGN_PASSWORD", kKeyPassword}}));
  expect_fails("build with a wrong key password",
               bundler(m, with(build, {"--key", key2, "--password-file", wrong_password.string(), "-o",
                                       (m / "out/bad1.tar.zst").string()})),
               "password");
  fs::remove(m / "docker/config.json");
  expect_fails("build with a wrong registry password (401)",
               bundler(m, with(build_cold, {"--key", key, "-o", (m / "out/bad2.tar.zst").string(), "--cache", (m / "cache/cold").string()}),
                       {{"COSIGN_PASSWORD", kKeyPassword}, {"SEALIFT_REGISTRY_USER", user},
                        {"SEALIFT_REGISTRY_PASSWORD", "wrong-" + kUpstreamPassword.substr(0, 4)}}),
               "401");
  expect_ok("inspect", bundler(m, {"inspect", bundle}));
  expect_ok("inspect --json", bundler(m, {"inspect", bundle, "--json"}));

  for (const auto& [what, r] : runs) secrets.expect_clean(r, what);
  secrets.expect_tree_clean(m.root(), m.exempt(), "after the vendor's commands");
  secrets.expect_file_clean(factory.upstream().log(), "the upstream registry's log");
  ASSERT_TRUE(fs::exists(bundle));
}

// The customer side without a cluster: verify, push (every way to log in, and refusals), export.
TEST(Secrets, TheInstallersCommandsLeakNoPasswordTokenOrRobotSecret) {
  testenv::BundleFactory factory;
  testenv::BundleSpec spec;
  spec.images = {"redis", "frontend"};
  Machine m;
  const fs::path bundle = m / "out/b.tar.zst";
  factory.build(spec, bundle);
  testenv::HarborLikeOptions options;
  options.admin_password = kAdminPassword;
  testenv::HarborLike harbor(options);
  const std::string admin = harbor.admin_user();

  registry::HttpOptions plain;
  plain.plain_http = true;
  harbor::HarborApi api(harbor.host(), plain, {admin, kAdminPassword, "test"});
  harbor.create_project("ai-saas");
  harbor::RobotAccount robot = api.create_pull_robot("ai-saas", "secrets-test");

  Secrets secrets;
  secrets.add_login("the Harbor admin password", admin, kAdminPassword);
  secrets.add_login("the robot secret", robot.name, robot.secret);
  secrets.add_raw("a Bearer token (JWT)", kJwtStart);
  std::vector<std::pair<std::string, RunResult>> runs;
  auto expect_ok = [&](const std::string& what, const RunResult& r) {
    EXPECT_EQ(r.exit_code, 0) << what << "\n" << said(r);
    runs.emplace_back(what, r);
  };
  auto expect_fails = [&](const std::string& what, const RunResult& r, const std::string& names) {
    EXPECT_NE(r.exit_code, 0) << what << "\n" << said(r);
    EXPECT_NE(r.err.find(names), std::string::npos) << what << " should say " << names << "\n" << said(r);
    runs.emplace_back(what, r);
  };

  const std::vector<std::string> key = {"--key", factory.public_key().string()};
  const std::vector<std::string> target = {"--registry", harbor.host(), "--project", "ai-saas", "--plain-http"};
  auto args = [&](std::initializer_list<std::vector<std::string>> parts) {
    std::vector<std::string> out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
  };
  const std::map<std::string, std::string> env_login = {{"SEALIFT_REGISTRY_USER", admin},
                                                        {"SEALIFT_REGISTRY_PASSWORD", kAdminPassword}};

  expect_ok("verify", installer(m, args({{"verify", bundle.string()}, key})));
  expect_ok("verify --json", installer(m, args({{"verify", bundle.string(), "--json"}, key})));
  expect_fails("verify with another key", installer(m, {"verify", bundle.string(), "--key", factory.other_key("stranger").string()}),
               "sealift.json.sig");
  expect_fails("push with a wrong password (401)",
               installer(m, args({{"push", bundle.string()}, key, target}),
                         {{"SEALIFT_REGISTRY_USER", admin}, {"SEALIFT_REGISTRY_PASSWORD", "wrong-" + kAdminPassword.substr(0, 4)}}),
               "401");
  expect_fails("push as a pull-only robot (403)",
               installer(m, args({{"push", bundle.string()}, key, target}),
                         {{"SEALIFT_REGISTRY_USER", robot.name}, {"SEALIFT_REGISTRY_PASSWORD", robot.secret}}),
               "no push permission");
  expect_ok("push (password in the environment, --json progress)",
            installer(m, args({{"push", bundle.string(), "--json"}, key, target}), env_login));
  expect_ok("push (--password-stdin)",
            installer(m, args({{"push", bundle.string(), "--username", admin, "--password-stdin"}, key, target}), {},
                      kAdminPassword + "\n"));
  m.docker_login(harbor.host(), admin, kAdminPassword);
  expect_ok("push --dry-run (docker config)", installer(m, args({{"push", bundle.string(), "--dry-run"}, key, target})));
  // An operator's script has the secrets in its environment; helm, which export runs, must not.
  expect_ok("export", installer(m, args({{"export", bundle.string(), "-o", (m / "out/gitops").string()}, key, target}),
                                with_env(env_login, {{"SEALIFT_PULL_PASSWORD", robot.secret}})));
  ASSERT_TRUE(fs::exists(m / "out/helm-started-with.txt")) << "helm was not started through the wrapper";
  ASSERT_TRUE(fs::exists(m / "out/gitops/manifests.yaml"));

  for (const auto& [what, r] : runs) secrets.expect_clean(r, what);
  secrets.expect_tree_clean(m.root(), m.exempt(), "after the installer's commands");
  for (const auto& log : harbor.logs()) secrets.expect_file_clean(log, "the target's log");
  EXPECT_TRUE(fs::is_empty(m / "tmp")) << "a command left files in TMPDIR";
}

// install, upgrade and status against the real cluster: the pull secret's password reaches the
// cluster (that is its purpose) and nothing else.
TEST(Secrets, InstallUpgradeAndStatusLeakNoPassword) {
  testenv::BundleFactory factory;
  testenv::BundleSpec spec;
  spec.images = {"redis", "backend"};
  Machine m;
  const fs::path v1 = m / "out/v1.tar.zst", v2 = m / "out/v2.tar.zst";
  factory.build(spec, v1);
  spec.release = 2;
  spec.chart_version = "1.1.0";
  factory.build(spec, v2);
  testenv::HarborLikeOptions options;
  options.admin_password = kAdminPassword;
  testenv::HarborLike harbor(options);
  const std::string admin = harbor.admin_user();
  registry::HttpOptions plain;
  plain.plain_http = true;
  harbor::HarborApi api(harbor.host(), plain, {admin, kAdminPassword, "test"});
  harbor.create_project("ai-saas");
  harbor::RobotAccount robot = api.create_pull_robot("ai-saas", "cluster");
  auto& cluster = testenv::Cluster::shared();

  Secrets secrets;
  secrets.add_login("the Harbor admin password", admin, kAdminPassword);
  secrets.add_login("the robot secret", robot.name, robot.secret);
  secrets.add_raw("a Bearer token (JWT)", kJwtStart);

  std::map<std::string, std::string> env = cluster.env();
  env["SEALIFT_PULL_PASSWORD"] = robot.secret;
  auto release = [&](const std::string& verb, const fs::path& bundle, std::vector<std::string> more,
                     std::map<std::string, std::string> extra_env, const std::string& stdin_data) {
    std::vector<std::string> argv = {verb, bundle.string(), "--key", factory.public_key().string(), "--registry",
                                     harbor.host(), "--project", "ai-saas", "--plain-http", "-n", "secrets",
                                     "--kubeconfig", cluster.kubeconfig().string(), "--timeout", "3m",
                                     "--pull-username", robot.name};
    argv.insert(argv.end(), more.begin(), more.end());
    auto e = env;
    e.insert(extra_env.begin(), extra_env.end());
    return installer(m, argv, e, stdin_data);
  };
  std::vector<std::pair<std::string, RunResult>> runs;
  auto record = [&](const std::string& what, const RunResult& r, bool ok) {
    EXPECT_EQ(r.exit_code == 0, ok) << what << "\n" << said(r);
    runs.emplace_back(what, r);
  };
  record("install with a wrong password (401)",
         release("install", v1, {}, {{"SEALIFT_REGISTRY_USER", admin}, {"SEALIFT_REGISTRY_PASSWORD", "wrong"}}, ""), false);
  record("install (--password-stdin, --json)", release("install", v1, {"--username", admin, "--password-stdin", "--json"}, {},
                                                       kAdminPassword + "\n"),
         true);
  record("upgrade (password in the environment)",
         release("upgrade", v2, {}, {{"SEALIFT_REGISTRY_USER", admin}, {"SEALIFT_REGISTRY_PASSWORD", kAdminPassword}}, ""),
         true);
  record("status", installer(m, {"status", "--release", "sealift-test-app", "-n", "secrets", "--kubeconfig",
                                 cluster.kubeconfig().string(), "--json"}, cluster.env()),
         true);
  ASSERT_TRUE(fs::exists(m / "out/helm-started-with.txt")) << "helm was not started through the wrapper";

  for (const auto& [what, r] : runs) secrets.expect_clean(r, what);
  secrets.expect_tree_clean(m.root(), m.exempt(), "after install, upgrade and status");
  for (const auto& log : harbor.logs()) secrets.expect_file_clean(log, "the target's log");
  EXPECT_TRUE(fs::is_empty(m / "tmp")) << "a command left files in TMPDIR";
}

}  // namespace
}  // namespace sealift
