#include "registry/auth.h"

#include <libpsl.h>

#include <algorithm>
#include <array>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "registry/remote_error.h"
#include "registry/url.h"
#include "util/encoding.h"
#include "util/error.h"

namespace sealift::registry {

std::string repository_scope(std::string_view repository, std::string_view actions) {
  return fmt::format("repository:{}:{}", repository, actions);
}

namespace {

// IP addresses and names without a dot (localhost) have no domain to share with another host.
bool has_domain(const std::string& host) {
  if (host.find(':') != std::string::npos || host.find('.') == std::string::npos) return false;
  return host.find_first_not_of("0123456789.") != std::string::npos;
}

// Domains where each customer's registry or service is a host of its own, which the Public
// Suffix List of Debian 12 (publicsuffix 20230209) does not list as public suffixes: a host
// under them shares nothing with its siblings (a.azurecr.io is not b.azurecr.io; an ECR registry
// is not somebody's API Gateway in the same region).
constexpr std::array<std::string_view, 5> kSharedCloudDomains = {"amazonaws.com", "amazonaws.com.cn", "azurecr.io",
                                                                 "azurecr.cn", "azurecr.us"};

bool under_shared_cloud_domain(std::string_view host) {
  return std::any_of(kSharedCloudDomains.begin(), kSharedCloudDomains.end(), [&](std::string_view d) {
    return host.size() > d.size() && host.substr(host.size() - d.size()) == d && host[host.size() - d.size() - 1] == '.';
  });
}

// The Public Suffix List as libpsl has it: the newer of the list built into libpsl and the one the
// distribution ships (Debian's publicsuffix package, updated without rebuilding libpsl). Null
// when neither is there; then no two hosts share a domain.
const psl_ctx_t* public_suffixes() {
  static const struct Holder {
    psl_ctx_t* ctx = psl_latest(nullptr);
    ~Holder() { psl_free(ctx); }
  } holder;
  return holder.ctx;
}

// "harbor.corp.co.uk" -> "corp.co.uk" (the public suffix co.uk plus one label); empty when the
// host is itself a public suffix or the list is missing.
std::string registrable_domain(const std::string& host) {
  const psl_ctx_t* psl = public_suffixes();
  const char* domain = psl ? psl_registrable_domain(psl, host.c_str()) : nullptr;
  return domain ? std::string(domain) : std::string();
}

bool has_port(const Url& u) {
  size_t colon = u.authority.rfind(':');
  size_t bracket = u.authority.rfind(']');
  return colon != std::string::npos && (bracket == std::string::npos || bracket < colon);
}

}  // namespace

bool token_realm_trusted(std::string_view registry, std::string_view realm, const std::vector<std::string>& allowed) {
  Url r = Url::parse(realm);
  std::string realm_host = r.host();
  std::string registry_host = Url::parse(fmt::format("https://{}/", registry)).host();
  if (realm_host == registry_host) return true;
  for (const auto& a : allowed) {
    Url entry = Url::parse(fmt::format("{}://{}/", r.scheme, a));
    if (entry.host() == realm_host && (!has_port(entry) || entry.origin() == r.origin())) return true;
  }
  if (!has_domain(realm_host) || !has_domain(registry_host)) return false;
  if (under_shared_cloud_domain(realm_host) || under_shared_cloud_domain(registry_host)) return false;
  const std::string domain = registrable_domain(registry_host);
  return !domain.empty() && domain == registrable_domain(realm_host);
}

constexpr double kMaxTokenLifetime = 24 * 3600;

BearerToken parse_token_response(std::string_view body, SteadyClock::time_point now) {
  auto doc = nlohmann::json::parse(body, nullptr, false);
  if (doc.is_discarded() || !doc.is_object())
    throw Error(ErrorKind::Remote, "the token service answered with something that is not a JSON object");
  std::string token;
  for (const char* key : {"token", "access_token"}) {
    if (doc.contains(key) && doc[key].is_string() && !doc[key].get<std::string>().empty()) {
      token = doc[key].get<std::string>();
      break;
    }
  }
  if (token.empty()) throw Error(ErrorKind::Remote, "the token service answered without a token");
  if (token.find_first_of("\r\n") != std::string::npos)
    throw Error(ErrorKind::Remote, "the token service answered with a token containing line breaks");
  double expires_in = 60;
  if (doc.contains("expires_in")) {
    if (!doc["expires_in"].is_number())
      throw Error(ErrorKind::Remote, "the token service answered with a non-numeric expires_in");
    expires_in = doc["expires_in"].get<double>();
    if (expires_in <= 0) expires_in = 60;
    // A day at most: a token kept longer gains nothing (a rejected one is renewed), and a huge
    // value (1e300) would overflow the clock's integer duration.
    expires_in = std::min(expires_in, kMaxTokenLifetime);
  }
  // Renew in the last tenth of the lifetime (at most 30 s early): a token must not expire in flight.
  double margin = std::min(30.0, expires_in / 10);
  auto life = std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(expires_in - margin));
  return BearerToken{token, now + life};
}

std::optional<std::string> TokenCache::get(const std::string& scope, SteadyClock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = tokens_.find(scope);
  if (it == tokens_.end()) return std::nullopt;
  if (now >= it->second.expires) {
    tokens_.erase(it);
    return std::nullopt;
  }
  return it->second.value;
}

void TokenCache::put(const std::string& scope, BearerToken token) {
  std::lock_guard lock(mu_);
  tokens_[scope] = std::move(token);
}

void TokenCache::forget(const std::string& scope, const std::string& value) {
  std::lock_guard lock(mu_);
  auto it = tokens_.find(scope);
  if (it != tokens_.end() && it->second.value == value) tokens_.erase(it);
}

Authenticator::Authenticator(std::string registry, Credentials credentials, HttpClient& http, RetryPolicy retry)
    : registry_(std::move(registry)), credentials_(std::move(credentials)), http_(http), retry_(retry) {}

bool Authenticator::basic() {
  std::lock_guard lock(mu_);
  return scheme_ == Scheme::Basic;
}

std::string Authenticator::basic_header() const {
  if (credentials_.anonymous()) return {};
  return "Basic " + util::base64_encode(credentials_.username + ":" + credentials_.password);
}

std::string Authenticator::authorization(const std::string& scope) {
  Scheme scheme;
  std::string realm, service;
  {
    std::lock_guard lock(mu_);
    scheme = scheme_;
    realm = realm_;
    service = service_;
  }
  if (scheme == Scheme::Basic) return basic_header();
  if (scheme != Scheme::Bearer) return {};
  if (auto cached = tokens_.get(scope, SteadyClock::now())) return "Bearer " + *cached;
  return "Bearer " + fetch_token(realm, service, scope);
}

void Authenticator::login_failed(const std::string& what) const {
  if (credentials_.anonymous())
    throw Error(ErrorKind::Remote, fmt::format("{} requires authentication: {}", registry_, what),
                "pass --username with --password-stdin, set SEALIFT_REGISTRY_USER/SEALIFT_REGISTRY_PASSWORD, or "
                "log in with docker login");
  throw Error(ErrorKind::Remote,
              fmt::format("login to {} failed for user \"{}\" (credentials from {}): {}", registry_,
                          credentials_.username, credentials_.origin, what),
              "check the user name and password");
}

std::string Authenticator::fetch_token(const std::string& realm, const std::string& service, const std::string& scope) {
  // The registry's challenge names the token service, and the credentials go there as Basic: a
  // registry (or someone in between) must not be able to send them to a host of its choosing.
  if (!credentials_.anonymous() && !token_realm_trusted(registry_, realm, http_.options().allowed_token_realms)) {
    Url r = Url::parse(realm);
    std::string host = r.host().find(':') == std::string::npos ? r.host() : fmt::format("[{}]", r.host());
    throw Error(ErrorKind::Remote,
                fmt::format("the token service of {} is on another host ({}): the credentials of user \"{}\" are not "
                            "sent there",
                            registry_, r.authority, credentials_.username),
                fmt::format("if {} is the token service of {}, allow it with --allow-token-realm {}", host, registry_, host));
  }
  std::string url = realm;
  if (!service.empty()) url = set_query_param(url, "service", service);
  // Several scopes go as repeated `scope` parameters.
  std::istringstream scopes(scope);
  std::string one;
  while (scopes >> one) {
    Url u = Url::parse(url);
    // Appended piece by piece: GCC 12 at -O3 reports a false -Wrestrict inside operator+ here.
    if (!u.query.empty()) u.query += '&';
    u.query += "scope=";
    u.query += percent_encode(one);
    u.has_query = true;
    url = u.str();
  }
  HttpRequest req;
  req.url = url;
  req.authorization = basic_header();
  HttpResponse r = send_with_retries(http_, req, retry_);
  if (r.failed())
    throw Error(ErrorKind::Network, fmt::format("token service of {} ({}): {}", registry_, Url::parse(realm).authority, r.error));
  if (r.status == 401 || r.status == 403) login_failed(describe_status(r.status, r.body));
  if (r.status != 200)
    throw Error(ErrorKind::Remote, fmt::format("token service of {} ({}): {}", registry_, Url::parse(realm).authority,
                                               describe_status(r.status, r.body)));
  BearerToken token = parse_token_response(r.body, SteadyClock::now());
  std::string value = token.value;
  tokens_.put(scope, std::move(token));
  return value;
}

std::string Authenticator::on_unauthorized(const HttpResponse& response, const std::string& scope,
                                           const std::string& rejected) {
  std::vector<Challenge> challenges;
  for (const auto& [name, value] : response.headers) {
    if (name != "www-authenticate") continue;
    auto more = parse_challenges(value);
    challenges.insert(challenges.end(), more.begin(), more.end());
  }
  auto find = [&](std::string_view scheme) {
    return std::find_if(challenges.begin(), challenges.end(), [&](const Challenge& c) { return c.scheme == scheme; });
  };
  if (auto bearer = find("bearer"); bearer != challenges.end()) {
    std::string realm = bearer->param("realm");
    if (realm.empty()) throw Error(ErrorKind::Remote, fmt::format("{} sent a Bearer challenge without a realm", registry_));
    Url::parse(realm);
    {
      std::lock_guard lock(mu_);
      scheme_ = Scheme::Bearer;
      realm_ = realm;
      service_ = bearer->param("service");
    }
    if (rejected.rfind("Bearer ", 0) == 0) tokens_.forget(scope, rejected.substr(7));
    return "Bearer " + fetch_token(realm, bearer->param("service"), scope);
  }
  if (find("basic") != challenges.end()) {
    if (rejected.rfind("Basic ", 0) == 0) login_failed(describe_status(response.status, response.body));
    std::string header = basic_header();
    if (header.empty()) login_failed(describe_status(response.status, response.body));
    std::lock_guard lock(mu_);
    scheme_ = Scheme::Basic;
    return header;
  }
  if (challenges.empty() && !response.has_header("www-authenticate"))
    throw Error(ErrorKind::Remote, fmt::format("{} answered 401 without saying how to authenticate", registry_));
  throw Error(ErrorKind::Remote,
              fmt::format("{} asks for an authentication scheme sealift does not support ({})", registry_,
                          challenges.empty() ? std::string("none") : challenges.front().scheme));
}

}  // namespace sealift::registry
