#include "harbor/detect.h"

#include <cctype>
#include <cstdio>
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
constexpr const char* kPing = "/api/v2.0/ping";
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

// Harbor's GeneralInfo as anyone gets it: a string auth_mode and a boolean self_registration in
// every Harbor 2.x, and harbor_version (a string) only up to 2.12 or for a signed-in caller.
// nullopt when `body` is not that; otherwise the version, empty when not disclosed.
std::optional<std::string> harbor_system_info(const std::string& body) {
  auto doc = nlohmann::json::parse(body, nullptr, false);
  if (!doc.is_object() || !doc.contains("auth_mode") || !doc["auth_mode"].is_string() ||
      !doc.contains("self_registration") || !doc["self_registration"].is_boolean())
    return std::nullopt;
  if (!doc.contains("harbor_version")) return std::string();
  if (!doc["harbor_version"].is_string()) return std::nullopt;
  return doc["harbor_version"].get<std::string>();
}

bool is_pong(const registry::HttpResponse& r) {
  std::string body = r.body;
  while (!body.empty() && std::isspace(static_cast<unsigned char>(body.back()))) body.pop_back();
  return r.status == 200 && body == "Pong";
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

std::optional<HarborRelease> parse_harbor_release(const std::string& version) {
  int major = 0, minor = 0, patch = 0, used = 0;
  if (std::sscanf(version.c_str(), "v%d.%d.%d%n", &major, &minor, &patch, &used) != 3) return std::nullopt;
  if (static_cast<size_t>(used) != version.size() && version[static_cast<size_t>(used)] != '-') return std::nullopt;
  return HarborRelease{major, minor};
}

bool sigstore_bundles_are_plain_accessories(const TargetKind& kind) {
  if (!kind.harbor) return false;
  std::optional<HarborRelease> r = parse_harbor_release(kind.harbor_version);
  return r && (r->major < 2 || (r->major == 2 && r->minor < 15));
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
    std::optional<std::string> version = harbor_system_info(r.body);
    if (!version) ambiguous(host, "answered 200, but not with Harbor's system info" + as_who);
    // A second sign, from another of Harbor's endpoints that answer anyone: ping says "Pong".
    const registry::Credentials* asker = with_credentials ? &credentials : nullptr;
    registry::HttpResponse ping = get(http, base + kPing, asker, retry);
    if (ping.failed()) fail_transport(host, base + kPing, ping);
    if (!is_pong(ping))
      ambiguous(host, fmt::format("answered like Harbor, but GET {} answered {}, not Harbor's \"Pong\"{}", kPing,
                                  registry::describe_status(ping.status, ping.body), as_who));
    std::string evidence = fmt::format("GET {} answered Harbor's system info and GET {} \"Pong\"", kSystemInfo, kPing);
    // Harbor 2.13 and later tell their version only to a signed-in caller.
    if (version->empty() && !with_credentials && !credentials.anonymous()) {
      registry::HttpResponse signed_in = get(http, url, &credentials, retry);
      if (signed_in.failed()) fail_transport(host, url, signed_in);
      if (signed_in.status == 200)
        if (std::optional<std::string> v = harbor_system_info(signed_in.body)) version = v;
      if (version->empty())
        evidence += fmt::format("; it did not tell user \"{}\" its version", credentials.username);
    }
    return {true, *version, evidence};
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
