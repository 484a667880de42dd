#include "harbor/detect.h"

#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "registry/remote_error.h"
#include "registry/url.h"
#include "util/encoding.h"
#include "util/error.h"

namespace sealift::harbor {

namespace {

constexpr const char* kSystemInfo = "/api/v2.0/systeminfo";
constexpr const char* kTypeHint =
    "check --registry and the credentials; if you know what the target is, say so with "
    "--registry-type harbor or --registry-type oci";

registry::HttpResponse get(registry::HttpClient& http, const std::string& url, const registry::Credentials* credentials,
                           const registry::RetryPolicy& retry) {
  registry::HttpRequest req;
  req.url = url;
  req.headers = {"Accept: application/json"};
  // Harbor's answer is a redirect-free JSON object; a redirect (a login page, another host) is
  // itself an answer to judge, not something to follow.
  req.follow_redirects = false;
  req.max_body = 64 << 10;
  if (credentials) req.authorization = "Basic " + util::base64_encode(credentials->username + ":" + credentials->password);
  return registry::send_with_retries(http, req, retry);
}

// The harbor_version of Harbor's GeneralInfo, or nullopt when `body` is not that.
std::optional<std::string> harbor_version(const std::string& body) {
  auto doc = nlohmann::json::parse(body, nullptr, false);
  if (!doc.is_object() || !doc.contains("harbor_version") || !doc["harbor_version"].is_string()) return std::nullopt;
  return doc["harbor_version"].get<std::string>();
}

[[noreturn]] void ambiguous(const std::string& host, const std::string& said) {
  throw Error(ErrorKind::Remote,
              fmt::format("cannot tell whether {} is Harbor: GET {} {}; sealift-install does not guess, because a "
                          "Harbor taken for a plain registry would skip its project checks",
                          host, kSystemInfo, said),
              kTypeHint);
}

[[noreturn]] void fail_transport(const std::string& host, const std::string& url, const registry::HttpResponse& r) {
  throw Error(ErrorKind::Network, fmt::format("{}: {}, while asking whether it is Harbor (GET {})", host, r.error, url),
              kTypeHint);
}

}  // namespace

RegistryType parse_registry_type(const std::string& text) {
  if (text == "auto") return RegistryType::Auto;
  if (text == "harbor") return RegistryType::Harbor;
  if (text == "oci") return RegistryType::Oci;
  throw Error(ErrorKind::Usage, fmt::format("--registry-type \"{}\" is none of auto, harbor, oci", text));
}

std::string TargetKind::describe() const {
  if (!harbor) return "an OCI registry that is not Harbor";
  return harbor_version.empty() ? "Harbor" : "Harbor " + harbor_version;
}

TargetKind detect_target(const std::string& host, const registry::HttpOptions& http_options,
                         const registry::Credentials& credentials, RegistryType type,
                         const registry::RetryPolicy& retry) {
  if (type == RegistryType::Harbor) return {true, "", "--registry-type harbor"};
  if (type == RegistryType::Oci) return {false, "", "--registry-type oci"};

  const std::string base = (http_options.plain_http ? "http://" : "https://") + host;
  const std::string url = base + kSystemInfo;
  registry::Url::parse(url);
  registry::HttpClient http(http_options);

  // Anonymous first: Harbor answers systeminfo to anyone, and a password goes nowhere it is not
  // needed. A target that wants credentials even here is asked once more with them.
  registry::HttpResponse r = get(http, url, nullptr, retry);
  if (r.failed()) fail_transport(host, url, r);
  bool with_credentials = false;
  if ((r.status == 401 || r.status == 403) && !credentials.anonymous()) {
    r = get(http, url, &credentials, retry);
    if (r.failed()) fail_transport(host, url, r);
    with_credentials = true;
  }
  const std::string as_who =
      with_credentials ? fmt::format(" (asked as \"{}\", credentials from {})", credentials.username, credentials.origin)
                       : std::string(credentials.anonymous() ? " (asked anonymously; no credentials given)" : "");

  if (r.status == 200) {
    if (std::optional<std::string> version = harbor_version(r.body))
      return {true, *version, fmt::format("GET {} answered Harbor's system info", kSystemInfo)};
    ambiguous(host, "answered 200, but not with Harbor's system info" + as_who);
  }
  if (r.status == 404) {
    // Not Harbor's API; but a 404 from something that is no registry at all (a web server at the
    // wrong port) must not pass as "a plain registry" either.
    registry::HttpResponse v2 = get(http, base + "/v2/", nullptr, retry);
    if (v2.failed()) fail_transport(host, base + "/v2/", v2);
    if (v2.status == 200 || v2.status == 401)
      return {false, "", fmt::format("GET {} answered 404", kSystemInfo)};
    throw Error(ErrorKind::Remote,
                fmt::format("{} is neither Harbor (GET {} answered 404) nor an OCI registry (GET /v2/ answered {})",
                            host, kSystemInfo, registry::describe_status(v2.status, v2.body)),
                "check --registry: it names the registry's host and port, as the cluster reaches it");
  }
  if (r.status >= 300 && r.status < 400)
    ambiguous(host, fmt::format("answered {} (a redirect to \"{}\")", r.status, r.header("location")));
  ambiguous(host, fmt::format("answered {}{}", registry::describe_status(r.status, r.body), as_who));
}

}  // namespace sealift::harbor
