// Getting past a registry's 401: anonymous, Basic, or Bearer tokens from the Docker token flow
// (wire-formats §12). Tokens are cached per scope until shortly before they expire; a token the
// registry rejects is dropped and renewed once. Thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "registry/challenge.h"
#include "registry/credentials.h"
#include "registry/http.h"
#include "registry/retry.h"

namespace sealift::registry {

using SteadyClock = std::chrono::steady_clock;

// "repository:proj/app:pull,push"
std::string repository_scope(std::string_view repository, std::string_view actions);

struct BearerToken {
  std::string value;
  SteadyClock::time_point expires;
};

// Parses the token service's JSON answer: `token`, else `access_token`; `expires_in` (default 60 s).
// The token counts as expired a little early so it is never sent in its last seconds.
// Throws Error(Remote) when there is no token in it.
BearerToken parse_token_response(std::string_view body, SteadyClock::time_point now);

// Whether the registry's credentials may go to the token service at `realm` (a URL) that
// `registry` ("harbor.example.com", "127.0.0.1:5000") named in its Bearer challenge: when the realm
// is on the registry's host or, for host names, in the same registrable domain by the Public Suffix
// List (harbor.example.com and auth.example.com, registry-1.docker.io and auth.docker.io; not
// harbor.corp.co.uk and evil.co.uk; ports may differ), or on a host in `allowed` (a host, or
// host:port for that port only). IP addresses and single-label names such as localhost match only
// themselves, and so do hosts under shared cloud domains (a.azurecr.io, *.amazonaws.com).
bool token_realm_trusted(std::string_view registry, std::string_view realm, const std::vector<std::string>& allowed);

class TokenCache {
 public:
  std::optional<std::string> get(const std::string& scope, SteadyClock::time_point now);
  void put(const std::string& scope, BearerToken token);
  // Drops the token for `scope` if it is still `value` (another thread may have renewed it).
  void forget(const std::string& scope, const std::string& value);

 private:
  std::mutex mu_;
  std::map<std::string, BearerToken> tokens_;
};

class Authenticator {
 public:
  Authenticator(std::string registry, Credentials credentials, HttpClient& http, RetryPolicy retry);

  // The Authorization value for a request that needs `scope` (space-separated scopes), "" for
  // none. Once the registry is known to want Bearer tokens, fetches one when none is cached.
  std::string authorization(const std::string& scope);

  // After a 401: learns the scheme from WWW-Authenticate, drops `rejected` (the Authorization that
  // was refused, "" if none) and returns what to retry with. Throws Error(Remote) in the user's words
  // when there is nothing better to send: wrong password, no credentials, no challenge.
  std::string on_unauthorized(const HttpResponse& response, const std::string& scope, const std::string& rejected);

  // True when the registry takes Basic credentials directly (a second 401 then means a bad password).
  bool basic();
  const Credentials& credentials() const { return credentials_; }

 private:
  enum class Scheme { Unknown, Basic, Bearer };
  std::string basic_header() const;
  std::string fetch_token(const std::string& realm, const std::string& service, const std::string& scope);
  [[noreturn]] void login_failed(const std::string& what) const;

  std::string registry_;
  Credentials credentials_;
  HttpClient& http_;
  RetryPolicy retry_;
  TokenCache tokens_;
  std::mutex mu_;
  Scheme scheme_ = Scheme::Unknown;
  std::string realm_, service_;
};

}  // namespace sealift::registry
