#include "env/registry.h"

#include <curl/curl.h>

#include <chrono>
#include <random>
#include <stdexcept>
#include <thread>

#include <nlohmann/json.hpp>

#include "env/tls.h"
#include "util/encoding.h"
#include "util/fs.h"

namespace sealift::testenv {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::string random_secret() {
  std::random_device rd;
  std::string bytes;
  for (int i = 0; i < 24; ++i) bytes.push_back(static_cast<char>(rd() & 0xff));
  return util::hex_encode(bytes);
}

size_t discard(char*, size_t size, size_t n, void*) { return size * n; }

// Any HTTP answer to GET /v2/ (200, or 401 with auth) means the registry is serving.
bool answers_http(const std::string& url, const fs::path& ca) {
  CURL* c = curl_easy_init();
  if (!c) return false;
  curl_easy_setopt(c, CURLOPT_URL, (url + "/v2/").c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  if (!ca.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, ca.c_str());
  long code = 0;
  if (curl_easy_perform(c) == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_easy_cleanup(c);
  return code > 0;
}

// htpasswd reads the password from stdin (-i), so it never shows in a process list; -B is bcrypt,
// the only hash distribution 2.8 accepts.
std::string bcrypt_line(const std::string& user, const std::string& password) {
  RunResult r = run({"htpasswd", "-niB", user}, {}, password, 60);
  if (r.exit_code != 0) throw std::runtime_error("htpasswd failed for user " + user + ": " + r.err);
  return r.out;
}

}  // namespace

Registry::Registry(RegistryOptions opts)
    : opts_(std::move(opts)), dir_(std::make_unique<TempDir>("sealift-registry")) {
  if (opts_.basic_auth && !opts_.token_realm.empty())
    throw std::invalid_argument("a registry takes either htpasswd or token auth, not both");
  if (opts_.kind == RegistryKind::OciRegistry && (opts_.tls || !opts_.token_realm.empty()))
    throw std::invalid_argument("the ociregistry peer serves plain HTTP with anonymous or Basic auth only");
  storage_ = dir_->path() / "storage";
  fs::create_directories(storage_);
  if (opts_.tls) make_test_certificates(dir_->path() / "tls");
  if (opts_.basic_auth) {
    util::write_file_atomic(dir_->path() / "htpasswd", bcrypt_line(opts_.user, opts_.password), 0600);
  }
  // free_port() can race with another process grabbing the port; only the first start may move.
  for (int attempt = 0;; ++attempt) {
    port_ = free_port();
    write_config();
    if (launch()) break;
    if (attempt == 4) {
      throw std::runtime_error(name() + " did not start; its log ends with:\n" + proc_.log_tail());
    }
  }
  if (opts_.basic_auth) {
    nlohmann::json cfg = {
        {"auths", {{host(), {{"auth", util::base64_encode(opts_.user + ":" + opts_.password)}}}}}};
    fs::create_directories(dir_->path() / "docker");
    util::write_file_atomic(auth_file(), cfg.dump(2) + "\n", 0600);
  }
}

Registry::~Registry() { proc_.stop(5); }

std::string Registry::host() const { return "127.0.0.1:" + std::to_string(port_); }

std::string Registry::name() const {
  return opts_.kind == RegistryKind::OciRegistry ? "ociregistry" : "docker-registry 2.8";
}

std::string Registry::url() const { return (opts_.tls ? "https://" : "http://") + host(); }

fs::path Registry::ca_file() const { return opts_.tls ? dir_->path() / "tls" / "trust" / "ca.crt" : fs::path{}; }

fs::path Registry::cert_dir() const { return opts_.tls ? ca_file().parent_path() : fs::path{}; }

fs::path Registry::auth_file() const {
  return opts_.basic_auth ? dir_->path() / "docker" / "config.json" : fs::path{};
}

fs::path Registry::log() const { return dir_->path() / "registry.log"; }

const fs::path& Registry::storage() const { return storage_; }

void Registry::write_config() const {
  const fs::path dir = dir_->path();
  std::string y =
      "version: 0.1\n"
      "log:\n"
      "  level: warn\n"
      "  accesslog:\n"
      "    disabled: true\n"
      "storage:\n"
      "  filesystem:\n"
      "    rootdirectory: " + storage_.string() + "\n"
      "  delete:\n"
      "    enabled: true\n"
      "  maintenance:\n"
      "    uploadpurging:\n"
      "      enabled: false\n"
      "http:\n"
      "  addr: " + host() + "\n"
      "  secret: " + random_secret() + "\n";
  if (opts_.tls) {
    y += "  tls:\n"
         "    certificate: " + (dir / "tls" / "server.crt").string() + "\n"
         "    key: " + (dir / "tls" / "server.key").string() + "\n";
  }
  if (opts_.basic_auth) {
    y += "auth:\n"
         "  htpasswd:\n"
         "    realm: sealift-test-registry\n"
         "    path: " + (dir / "htpasswd").string() + "\n";
  } else if (!opts_.token_realm.empty()) {
    y += "auth:\n"
         "  token:\n"
         "    realm: " + opts_.token_realm + "\n"
         "    service: " + opts_.token_service + "\n"
         "    issuer: " + opts_.token_issuer + "\n"
         "    rootcertbundle: " + opts_.token_rootcert.string() + "\n";
  }
  util::write_file_atomic(dir / "config.yml", y, 0600);
}

bool Registry::launch() {
  // setpriv execs the registry, so the pid we hold is the registry's own.
  std::vector<std::string> argv = {"setpriv", "--pdeathsig", "KILL", "--"};
  if (opts_.kind == RegistryKind::OciRegistry) {
    argv.insert(argv.end(), {peer("ociregistry"), "-addr", host()});
    if (opts_.basic_auth) argv.insert(argv.end(), {"-htpasswd", (dir_->path() / "htpasswd").string()});
  } else {
    argv.insert(argv.end(), {"docker-registry", "serve", (dir_->path() / "config.yml").string()});
  }
  proc_ = Process(argv, log());
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (Clock::now() < deadline) {
    if (!proc_.running()) return false;
    if (answers_http(url(), ca_file())) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  proc_.stop(1);
  throw std::runtime_error(name() + " on " + host() + " did not answer GET /v2/ within 30 s; log:\n" +
                           proc_.log_tail());
}

void Registry::kill() { proc_.kill(); }

void Registry::start() {
  if (proc_.running()) return;
  if (!launch()) {
    throw std::runtime_error(name() + " did not restart on " + host() + "; its log ends with:\n" +
                             proc_.log_tail());
  }
}

bool Registry::running() { return proc_.running(); }

}  // namespace sealift::testenv
