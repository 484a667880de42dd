// One HTTP exchange over libcurl, the way registries need it: bodies streamed from a Source and to
// a Sink, redirects followed by hand so Authorization never reaches another host, no cookie engine
// (Harbor's CSRF check rejects a replayed `sid`), no `Expect: 100-continue`, TLS verified unless
// the user said otherwise, plain HTTP only when asked for, and stalled transfers cut off.
// Thread-safe: each call borrows an easy handle; handles share DNS and TLS sessions, and keep
// their own connections (libcurl cannot share a connection pool between threads safely).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "io/stream.h"
#include "registry/retry.h"
#include "registry/trust.h"

namespace sealift::registry {

struct HttpOptions {
  bool plain_http = false;              // allow http:// (never chosen silently)
  std::filesystem::path ca_file;        // --ca-file: the CAs trusted instead of the system's (trust.h)
  std::filesystem::path client_cert;    // optional client certificate (PEM)
  std::filesystem::path client_key;     // its key (PEM)
  bool insecure_skip_verify = false;    // accept any server certificate
  double connect_timeout_s = 30;
  // A transfer that moves fewer than min_rate bytes per second for stall_timeout_s seconds is cut
  // off (and retried by the caller). And every request has an overall deadline of
  // request_base_s plus its expected bytes at min_rate (HttpRequest::expected_bytes), so one that
  // keeps that rate always finishes in time, whatever its size, while a server that trickles or
  // pauses cannot hold a request for ever.
  double stall_timeout_s = 60;
  uint64_t min_rate = 1024;
  double request_base_s = 300;
  // --allow-token-realm: hosts ("auth.example.net", "10.0.0.7:8443") outside the registry's own
  // host and domain that may receive its credentials as its token service (see auth.h).
  std::vector<std::string> allowed_token_realms;
  // Receives one line per exchange ("PUT https://h/v2/... -> 201"); never headers or bodies. Called
  // from every transfer worker, several at once: the callee must be thread-safe.
  std::function<void(std::string_view)> log;
};

struct HttpResponse;

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  // Sent only to the origin of `url`, and dropped for good once a redirect leaves it.
  std::string authorization;
  // Opens the request body from its start; called again when a redirect needs it resent.
  std::function<std::unique_ptr<io::Source>()> body;
  uint64_t body_size = 0;
  // Receives a 2xx body; everything else (and 2xx when null) is kept in HttpResponse::body.
  io::Sink* sink = nullptr;
  // Called once the headers of a 2xx answer are in, before the first body byte reaches `sink`.
  std::function<void(const HttpResponse&)> on_headers;
  // Called as body bytes go out, with the running count for this request.
  std::function<void(uint64_t sent)> on_upload;
  size_t max_body = 1 << 20;  // cap on a body kept in memory
  // The bytes the answer is expected to carry into `sink` (a blob's size), for the deadline (see
  // HttpOptions::min_rate). A request with a sink and none given has no overall deadline; one
  // without a sink counts max_body, and an upload its body_size.
  uint64_t expected_bytes = 0;
  bool follow_redirects = true;
};

struct HttpResponse {
  long status = 0;       // 0 when no answer arrived
  std::string error;     // set when the exchange failed, in the user's words
  bool retryable = false;  // whether that failure may go away on another attempt
  std::vector<std::pair<std::string, std::string>> headers;  // lowercase names, final answer only
  std::string body;
  std::string url;       // the URL that gave this answer (the base for a relative Location)
  uint64_t delivered = 0;  // body bytes handed to the sink
  uint64_t sent = 0;       // request body bytes sent

  bool failed() const { return !error.empty(); }
  // The first header of that (lowercase) name, or "".
  std::string header(std::string_view name) const;
  bool has_header(std::string_view name) const;
};

class HttpClient {
 public:
  explicit HttpClient(HttpOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // One attempt (redirects included). Transport failures come back in HttpResponse::error;
  // exceptions thrown by the body source or the sink propagate unchanged. Throws Error(Usage)
  // for an http:// URL without plain_http.
  HttpResponse send(const HttpRequest& request);

  const HttpOptions& options() const { return options_; }

 private:
  struct Shared;
  HttpResponse perform(void* handle, const HttpRequest& request, const std::string& method, const std::string& url,
                       bool send_body, bool send_authorization);
  void* borrow();
  void give_back(void* handle);

  HttpOptions options_;
  Trust trust_;
  std::unique_ptr<Shared> shared_;
  std::mutex mu_;
  std::vector<void*> idle_;
};

// Sends a request whose body can be re-opened, again after a retryable failure (connection errors,
// 408, 429, 5xx), waiting as `policy` says (Retry-After honoured). Returns the last answer; the
// caller turns a failure into an error with its own words.
HttpResponse send_with_retries(HttpClient& http, const HttpRequest& request, const RetryPolicy& policy);

// Waits before retry number `failures` after `r`; false when the policy says stop.
bool wait_before_retry(const RetryPolicy& policy, int failures, const HttpResponse& r);

}  // namespace sealift::registry
