#include "registry/http.h"

#include <curl/curl.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <exception>
#include <optional>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "registry/trust.h"
#include "registry/url.h"
#include "util/encoding.h"
#include "util/error.h"

namespace sealift::registry {

namespace {

constexpr int kMaxRedirects = 10;

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw Error(ErrorKind::Internal, "libcurl failed to initialise");
  });
}

// Per-exchange state the libcurl callbacks work on.
struct Exchange {
  const HttpRequest* request = nullptr;
  HttpResponse* response = nullptr;
  io::Source* body = nullptr;
  uint64_t body_size = 0;
  bool headers_done = false;
  bool body_too_large = false;
  std::exception_ptr failure;  // thrown by the source, the sink or on_headers

  bool to_sink() const {
    return request->sink && response->status >= 200 && response->status < 300;
  }
};

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* x = static_cast<Exchange*>(user);
  std::string_view line(data, size * n);
  if (line.substr(0, 5) == "HTTP/") {
    // A new status line (after an interim 1xx): start afresh.
    x->response->headers.clear();
    x->headers_done = false;
    size_t sp = line.find(' ');
    x->response->status = sp == std::string_view::npos ? 0 : std::atol(std::string(line.substr(sp + 1, 3)).c_str());
    return size * n;
  }
  std::string_view t = trim(line);
  if (t.empty()) {
    if (x->response->status >= 200 && !x->headers_done) {
      x->headers_done = true;
      if (x->request->on_headers && x->to_sink()) {
        try {
          x->request->on_headers(*x->response);
        } catch (...) {
          x->failure = std::current_exception();
          return 0;
        }
      }
    }
    return size * n;
  }
  size_t colon = t.find(':');
  if (colon != std::string_view::npos)
    x->response->headers.emplace_back(util::ascii_lower(trim(t.substr(0, colon))), std::string(trim(t.substr(colon + 1))));
  return size * n;
}

size_t on_write(char* data, size_t size, size_t n, void* user) {
  auto* x = static_cast<Exchange*>(user);
  size_t len = size * n;
  if (x->to_sink()) {
    try {
      x->request->sink->write(std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), len));
    } catch (...) {
      x->failure = std::current_exception();
      return 0;
    }
    x->response->delivered += len;
    return len;
  }
  if (x->response->body.size() + len > x->request->max_body) {
    x->body_too_large = true;
    return 0;
  }
  x->response->body.append(data, len);
  return len;
}

size_t on_read(char* data, size_t size, size_t n, void* user) {
  auto* x = static_cast<Exchange*>(user);
  uint64_t left = x->body_size - x->response->sent;
  size_t want = static_cast<size_t>(std::min<uint64_t>(left, size * n));
  if (want == 0) return 0;
  try {
    size_t got = x->body->read(std::span<std::byte>(reinterpret_cast<std::byte*>(data), want));
    if (got == 0)
      throw Error(ErrorKind::Io, fmt::format("the content ended after {} of the {} bytes to send", x->response->sent,
                                             x->body_size));
    x->response->sent += got;
    if (x->request->on_upload) x->request->on_upload(x->response->sent);
    return got;
  } catch (...) {
    x->failure = std::current_exception();
    return CURL_READFUNC_ABORT;
  }
}

// Transport failures in the user's words, and whether another attempt may help. `host` is the
// one this exchange went to (a redirect may have left the registry's).
void describe_failure(CURLcode rc, const char* detail, const HttpOptions& o, const Trust& trust, const std::string& host,
                      HttpResponse& r) {
  std::string d = detail && *detail ? detail : curl_easy_strerror(rc);
  switch (rc) {
    case CURLE_PEER_FAILED_VERIFICATION:
      r.error = fmt::format("the TLS certificate of {} is not trusted: checked against {}; pass the CA that signed it "
                            "with --ca-file FILE (PEM), or set SSL_CERT_FILE",
                            host, trust.describe());
      return;
    case CURLE_SSL_CACERT_BADFILE:
      r.error = fmt::format("cannot use the CA certificates {}: {}", trust.describe(), d);
      return;
    case CURLE_SSL_CERTPROBLEM:
      r.error = fmt::format("cannot use the client certificate {}: {}", o.client_cert.string(), d);
      return;
    case CURLE_SSL_CONNECT_ERROR:
      r.error = fmt::format("TLS handshake failed ({}); if the registry speaks plain HTTP, pass --plain-http", d);
      return;
    case CURLE_COULDNT_RESOLVE_HOST:
      r.error = "cannot resolve the host name";
      r.retryable = true;
      return;
    case CURLE_COULDNT_CONNECT:
      r.error = fmt::format("cannot connect ({})", d);
      r.retryable = true;
      return;
    case CURLE_OPERATION_TIMEDOUT:
      r.error = fmt::format("timed out: {}", d);
      r.retryable = true;
      return;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_SEND_FAIL_REWIND:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_HTTP3:
      r.error = fmt::format("connection lost ({})", d);
      r.retryable = true;
      return;
    default:
      r.error = d;
      return;
  }
}

}  // namespace

struct HttpClient::Shared {
  CURLSH* share = nullptr;
  std::array<std::mutex, CURL_LOCK_DATA_LAST> locks;

  static void lock(CURL*, curl_lock_data data, curl_lock_access, void* user) {
    static_cast<Shared*>(user)->locks[static_cast<size_t>(data)].lock();
  }
  static void unlock(CURL*, curl_lock_data data, void* user) {
    static_cast<Shared*>(user)->locks[static_cast<size_t>(data)].unlock();
  }
};

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return v;
  return {};
}

bool HttpResponse::has_header(std::string_view name) const {
  return std::any_of(headers.begin(), headers.end(), [&](const auto& h) { return h.first == name; });
}

HttpClient::HttpClient(HttpOptions options)
    : options_(std::move(options)), trust_(find_trust(options_.ca_file)), shared_(std::make_unique<Shared>()) {
  global_init();
  shared_->share = curl_share_init();
  if (!shared_->share) throw Error(ErrorKind::Internal, "libcurl: cannot create a share handle");
  curl_share_setopt(shared_->share, CURLSHOPT_LOCKFUNC, &Shared::lock);
  curl_share_setopt(shared_->share, CURLSHOPT_UNLOCKFUNC, &Shared::unlock);
  curl_share_setopt(shared_->share, CURLSHOPT_USERDATA, shared_.get());
  curl_share_setopt(shared_->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(shared_->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  // Not CURL_LOCK_DATA_CONNECT: libcurl's shared connection pool is not safe across concurrent
  // threads (curl-library, March 2021: "there is a concurrency bug in that"); with it, a push
  // through flaky connections once died with "munmap_chunk(): invalid pointer". Each pooled easy
  // handle keeps its own connections, which the handle pool reuses.
}

HttpClient::~HttpClient() {
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
  curl_share_cleanup(shared_->share);
}

void* HttpClient::borrow() {
  {
    std::lock_guard lock(mu_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  CURL* h = curl_easy_init();
  if (!h) throw Error(ErrorKind::Internal, "libcurl: cannot create a handle");
  return h;
}

void HttpClient::give_back(void* handle) {
  std::lock_guard lock(mu_);
  idle_.push_back(handle);
}

HttpResponse HttpClient::send(const HttpRequest& request) {
  void* handle = borrow();
  struct Return {
    HttpClient* self;
    void* h;
    ~Return() { self->give_back(h); }
  } guard{this, handle};

  std::string method = request.method;
  std::string url = request.url;
  bool send_body = static_cast<bool>(request.body);
  bool send_authorization = !request.authorization.empty();
  for (int hop = 0;; ++hop) {
    HttpResponse r = perform(handle, request, method, url, send_body, send_authorization);
    bool redirect = r.status == 301 || r.status == 302 || r.status == 303 || r.status == 307 || r.status == 308;
    if (!request.follow_redirects || !redirect || r.failed() || !r.has_header("location")) return r;
    if (hop == kMaxRedirects) {
      r.error = fmt::format("more than {} redirects", kMaxRedirects);
      return r;
    }
    std::string next = resolve_location(url, r.header("location"));
    if (!same_origin(request.url, next)) send_authorization = false;
    if (r.status == 303 && method != "HEAD") {
      method = "GET";
      send_body = false;
    }
    url = std::move(next);
  }
}

namespace {

// HttpOptions::min_rate: the overall deadline of one request; none for a download of unknown size.
std::optional<double> request_deadline_s(const HttpOptions& options, const HttpRequest& request, bool send_body) {
  if (request.sink && request.expected_bytes == 0) return std::nullopt;
  uint64_t expected = request.sink ? request.expected_bytes : request.max_body;
  if (send_body) expected = std::max(expected, request.body_size);
  return options.request_base_s +
         static_cast<double>(expected) / static_cast<double>(std::max<uint64_t>(options.min_rate, 1));
}

}  // namespace

HttpResponse HttpClient::perform(void* handle, const HttpRequest& request, const std::string& method,
                                 const std::string& url, bool send_body, bool send_authorization) {
  Url parsed = Url::parse(url);
  if (parsed.scheme == "http" && !options_.plain_http)
    throw Error(ErrorKind::Usage, fmt::format("refusing to talk plain HTTP to {}", parsed.authority),
                "pass --plain-http if that server really has no TLS");

  CURL* h = static_cast<CURL*>(handle);
  curl_easy_reset(h);
  HttpResponse response;
  response.url = url;
  Exchange x;
  x.request = &request;
  x.response = &response;
  std::unique_ptr<io::Source> body;
  if (send_body) {
    body = request.body();
    x.body = body.get();
    x.body_size = request.body_size;
  }

  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_SHARE, shared_->share);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, options_.plain_http ? "http,https" : "https");
  curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(options_.connect_timeout_s * 1000));
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, static_cast<long>(std::max<uint64_t>(options_.min_rate, 1)));
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, std::max(1L, static_cast<long>(options_.stall_timeout_s)));
  if (auto deadline = request_deadline_s(options_, request, send_body))
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(std::min(*deadline * 1000, 1e15)));
  curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);
  curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 1024L * 1024);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "sealift/" SEALIFT_VERSION);
  // Exactly what find_trust chose, never libcurl's built-in default next to it (that path is the
  // build machine's); libcurl's default stays only when nothing was found.
  if (!trust_.origin.empty()) {
    curl_easy_setopt(h, CURLOPT_CAINFO, trust_.file.empty() ? nullptr : trust_.file.c_str());
    curl_easy_setopt(h, CURLOPT_CAPATH, trust_.dir.empty() ? nullptr : trust_.dir.c_str());
  }
  if (!options_.client_cert.empty()) curl_easy_setopt(h, CURLOPT_SSLCERT, options_.client_cert.c_str());
  if (!options_.client_key.empty()) curl_easy_setopt(h, CURLOPT_SSLKEY, options_.client_key.c_str());
  if (options_.insecure_skip_verify) {
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &on_write);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);

  if (method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (method == "GET") {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else if (send_body) {
    // Every body goes out as a stream with a known Content-Length.
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(request.body_size));
    curl_easy_setopt(h, CURLOPT_READFUNCTION, &on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, &x);
  } else {
    // An empty body still says Content-Length: 0 (distribution wants it on POST and PUT).
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, 0L);
    if (method != "POST") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  }

  curl_slist* headers = nullptr;
  auto add = [&](const std::string& line) {
    curl_slist* next = curl_slist_append(headers, line.c_str());
    if (!next) {
      curl_slist_free_all(headers);
      throw Error(ErrorKind::Internal, "libcurl: out of memory");
    }
    headers = next;
  };
  for (const auto& line : request.headers) add(line);
  add("Expect:");
  if (send_authorization) add("Authorization: " + request.authorization);
  bool has_content_type = std::any_of(request.headers.begin(), request.headers.end(), [](const std::string& line) {
    return util::ascii_lower(std::string_view(line).substr(0, 13)) == "content-type:";
  });
  // libcurl would label an empty POST as a form; an empty body has no type.
  if (!send_body && method != "GET" && method != "HEAD" && !has_content_type) add("Content-Type:");
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);

  CURLcode rc = curl_easy_perform(h);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, nullptr);
  curl_slist_free_all(headers);

  if (x.failure) std::rethrow_exception(x.failure);
  if (rc != CURLE_OK) {
    if (x.body_too_large) {
      response.error = fmt::format("the answer is larger than {} bytes", request.max_body);
    } else {
      describe_failure(rc, errbuf, options_, trust_, parsed.authority, response);
    }
  }
  if (options_.log) {
    std::string outcome = response.failed() ? response.error : std::to_string(response.status);
    options_.log(fmt::format("{} {} -> {}", method, url, outcome));
  }
  return response;
}

bool wait_before_retry(const RetryPolicy& policy, int failures, const HttpResponse& r) {
  if (!(r.failed() ? r.retryable : retryable_status(r.status))) return false;
  std::optional<double> retry_after;
  if (!r.failed() && r.has_header("retry-after"))
    retry_after = parse_retry_after(r.header("retry-after"), std::chrono::system_clock::now());
  thread_local std::mt19937_64 rng{std::random_device{}()};
  double random01 = std::uniform_real_distribution<double>(0.0, 1.0)(rng);
  auto delay = policy.delay(failures, random01, retry_after);
  if (!delay) return false;
  std::this_thread::sleep_for(std::chrono::duration<double>(*delay));
  return true;
}

HttpResponse send_with_retries(HttpClient& http, const HttpRequest& request, const RetryPolicy& policy) {
  for (int failures = 1;; ++failures) {
    HttpResponse r = http.send(request);
    bool transient = r.failed() ? r.retryable : retryable_status(r.status);
    if (!transient || !wait_before_retry(policy, failures, r)) return r;
  }
}

}  // namespace sealift::registry
