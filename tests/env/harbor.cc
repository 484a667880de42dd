#include "env/harbor.h"

#include <curl/curl.h>

#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

#include "env/tls.h"
#include "util/encoding.h"
#include "util/fs.h"

namespace sealift::testenv {

namespace fs = std::filesystem;

namespace {

size_t collect(char* data, size_t size, size_t n, void* user) {
  static_cast<std::string*>(user)->append(data, size * n);
  return size * n;
}

}  // namespace

std::string harborlike_program() { return std::string(SEALIFT_BINARY_DIR) + "/sealift-harborlike"; }

HarborLike::HarborLike(HarborLikeOptions opts) : opts_(std::move(opts)), dir_(std::make_unique<TempDir>("sealift-harbor")) {
  const fs::path dir = dir_->path();
  // The token signing key and its self-signed certificate, the registry's rootcertbundle.
  RunResult key = run({"openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
                       (dir / "token.key").string()});
  RunResult cert = run({"openssl", "req", "-x509", "-new", "-key", (dir / "token.key").string(), "-subj",
                        "/CN=harbor-token-signer", "-days", "2", "-out", (dir / "token.crt").string()});
  if (key.exit_code != 0 || cert.exit_code != 0)
    throw std::runtime_error("openssl could not make the token signing key: " + key.err + cert.err);
  fs::permissions(dir / "token.key", fs::perms::owner_read | fs::perms::owner_write);

  std::vector<std::string> argv = {harborlike_program(), "-signing-key", (dir / "token.key").string(), "-token-ttl",
                                   std::to_string(opts_.token_ttl_s), "-harbor-version", opts_.version};
  if (opts_.tls) {
    TestCertificates certs = make_test_certificates(dir / "tls");
    ca_file_ = certs.ca_cert;
    argv.insert(argv.end(), {"-tls-cert", certs.server_cert.string(), "-tls-key", certs.server_key.string()});
  }
  for (const auto& p : opts_.projects) argv.insert(argv.end(), {"-project", p});

  port_ = free_port();
  RegistryOptions ro;
  ro.token_realm = url() + "/service/token";
  ro.token_rootcert = dir / "token.crt";
  registry_ = std::make_unique<Registry>(ro);

  argv.insert(argv.end(), {"-listen", host(), "-registry", registry_->url()});
  // The admin password goes through the environment, never argv.
  proc_ = Process(argv, dir / "harborlike.log",
                  {{"HARBOR_ADMIN_USER", opts_.admin_user}, {"HARBOR_ADMIN_PASSWORD", opts_.admin_password}});
  if (!wait_for_port(port_, 30) || !proc_.running())
    throw std::runtime_error("sealift-harborlike did not start on " + host() + "; log:\n" + proc_.log_tail());
}

HarborLike::~HarborLike() { proc_.stop(5); }

std::string HarborLike::host() const { return "127.0.0.1:" + std::to_string(port_); }

std::string HarborLike::url() const { return (opts_.tls ? "https://" : "http://") + host(); }

fs::path HarborLike::ca_file() const { return ca_file_; }

void HarborLike::create_project(const std::string& name, bool is_public) {
  nlohmann::json body = {{"project_name", name}, {"metadata", {{"public", is_public ? "true" : "false"}}}};
  std::string payload = body.dump();
  std::string answer;
  CURL* c = curl_easy_init();
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  std::string userpwd = opts_.admin_user + ":" + opts_.admin_password;
  std::string target = url() + "/api/v2.0/projects";
  curl_easy_setopt(c, CURLOPT_URL, target.c_str());
  curl_easy_setopt(c, CURLOPT_USERPWD, userpwd.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, payload.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  if (!ca_file_.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, ca_file_.c_str());
  long code = 0;
  CURLcode rc = curl_easy_perform(c);
  if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all(headers);
  curl_easy_cleanup(c);
  if (code != 201)
    throw std::runtime_error("creating project " + name + " failed: " + std::to_string(code) + " " + answer +
                             curl_easy_strerror(rc));
}

std::string HarborLike::request_log() const {
  std::error_code ec;
  if (!fs::exists(proc_.log(), ec)) return {};
  return util::read_file(proc_.log());
}

size_t HarborLike::count_requests(const std::string& method, const std::string& path_part) const {
  std::istringstream in(request_log());
  std::string line;
  size_t n = 0;
  while (std::getline(in, line)) {
    std::istringstream words(line);
    std::string m, path;
    words >> m >> path;
    if (m == method && path.find(path_part) != std::string::npos) ++n;
  }
  return n;
}

std::vector<fs::path> HarborLike::logs() const { return {proc_.log(), registry_->log()}; }

}  // namespace sealift::testenv
