#include "serve/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "oci/digest.h"
#include "serve/route.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/fs.h"

namespace sealift::serve {

using Clock = std::chrono::steady_clock;

struct Server::State {
  State(const bundle::ArchiveReader& r, const ServedBundle& c) : reader(r), content(c) {}
  const bundle::ArchiveReader& reader;
  const ServedBundle& content;
  std::unique_ptr<Htpasswd> auth;
  std::string cert, key;  // PEM, alive as long as the daemon
  MHD_Daemon* daemon = nullptr;

  // Open connections, and since when each has been waiting for its request head (unset while a
  // request is being answered). The watchdog shuts down the socket of one waiting too long;
  // libmicrohttpd then closes it. Entries go when libmicrohttpd reports the connection closed,
  // which it does before it closes the socket, so the watchdog never touches a reused descriptor.
  struct Open {
    int fd = -1;
    std::optional<Clock::time_point> waiting_since;
  };
  std::chrono::seconds head_timeout{30};
  std::mutex open_mutex;
  std::condition_variable stop_watchdog;
  bool stopping = false;
  std::map<MHD_Connection*, Open> open;
  std::thread watchdog;

  // Addresses whose last Basic auth attempts failed: no check is made for them until `until`
  // (1 s after one failure, doubling up to 32 s), so guessing from one address is slow.
  struct Failures {
    unsigned count = 0;
    Clock::time_point until;
  };
  std::mutex failures_mutex;
  std::map<std::string, Failures> failures;

  void watch() {
    std::unique_lock lock(open_mutex);
    while (!stop_watchdog.wait_for(lock, std::chrono::seconds(1), [&] { return stopping; })) {
      const Clock::time_point now = Clock::now();
      for (auto& [connection, o] : open) {
        if (o.waiting_since && now - *o.waiting_since > head_timeout) {
          shutdown(o.fd, SHUT_RDWR);
          o.waiting_since.reset();
        }
      }
    }
  }
};

namespace {

// One blob answer being sent: its entry is opened on the first read (a HEAD never opens it). A
// whole blob is hashed on its way out, and its last bytes are sent only when the digest matches:
// the bundle was verified before serving, but it is read again for every answer, maybe long after.
struct BlobStream {
  const bundle::ArchiveReader* reader;
  std::string entry;
  uint64_t offset = 0;
  uint64_t remaining = 0;
  std::unique_ptr<bundle::EntrySource> source;
  std::optional<oci::Digest> expected;  // set for whole-blob answers
  std::unique_ptr<oci::Sha256> hash;
};

ssize_t read_blob(void* cls, uint64_t, char* buf, size_t max) {
  auto* s = static_cast<BlobStream*>(cls);
  if (s->remaining == 0) return MHD_CONTENT_READER_END_OF_STREAM;
  try {
    if (!s->source) {
      s->source = s->reader->open_at(s->entry, s->offset);
      if (s->expected) s->hash = std::make_unique<oci::Sha256>();
    }
    size_t want = static_cast<size_t>(std::min<uint64_t>(max, s->remaining));
    std::span<std::byte> out(reinterpret_cast<std::byte*>(buf), want);
    size_t n = s->source->read(out);
    if (n == 0) return MHD_CONTENT_READER_END_WITH_ERROR;
    s->remaining -= n;
    if (s->hash) {
      s->hash->update(out.first(n));
      if (s->remaining == 0 && s->hash->finish() != *s->expected)
        throw Error(ErrorKind::Integrity,
                    fmt::format("its content no longer has its digest {}: the bundle was changed on disk after it was "
                                "verified; the answer was cut before its last bytes",
                                s->expected->str()),
                    "stop serving, get a new copy of the bundle and serve that");
    }
    return static_cast<ssize_t>(n);
  } catch (const std::exception& e) {
    // The status line is gone already: the connection is closed short, which every client sees.
    fmt::print(stderr, "sealift-install serve: {}: {}\n", s->entry, e.what());
    return MHD_CONTENT_READER_END_WITH_ERROR;
  }
}

void free_blob(void* cls) { delete static_cast<BlobStream*>(cls); }

MHD_Result send(MHD_Connection* c, const Answer& a, const bundle::ArchiveReader& reader) {
  MHD_Response* response = nullptr;
  if (!a.entry.empty()) {
    auto* stream = new BlobStream{&reader, a.entry, a.offset, a.length, nullptr, std::nullopt, nullptr};
    const bundle::TocEntry* e = reader.find(a.entry);
    // Entries answered as blobs are named blobs/sha256/<hex> by their digest.
    const std::string_view prefix = "blobs/sha256/";
    if (e && a.offset == 0 && a.length == e->size && a.entry.rfind(prefix, 0) == 0)
      stream->expected = oci::Digest::parse("sha256:" + a.entry.substr(prefix.size()));
    response = MHD_create_response_from_callback(a.length, 256 * 1024, &read_blob, stream, &free_blob);
    if (!response) free_blob(stream);
  } else if (a.static_body) {
    response = MHD_create_response_from_buffer(a.static_body->size(), const_cast<char*>(a.static_body->data()),
                                               MHD_RESPMEM_PERSISTENT);
  } else {
    response = MHD_create_response_from_buffer(a.body.size(), const_cast<char*>(a.body.data()), MHD_RESPMEM_MUST_COPY);
  }
  if (!response) return MHD_NO;
  MHD_add_response_header(response, "Docker-Distribution-API-Version", "registry/2.0");
  for (const auto& [name, value] : a.headers) MHD_add_response_header(response, name.c_str(), value.c_str());
  MHD_Result r = MHD_queue_response(c, static_cast<unsigned>(a.status), response);
  MHD_destroy_response(response);
  return r;
}

std::string_view header(MHD_Connection* c, MHD_ValueKind kind, const char* name, bool* present = nullptr) {
  const char* v = MHD_lookup_connection_value(c, kind, name);
  if (present) *present = v != nullptr;
  return v ? std::string_view(v) : std::string_view();
}

std::string client_address(MHD_Connection* c) {
  const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  char text[INET6_ADDRSTRLEN] = "";
  if (info && info->client_addr) {
    const sockaddr* a = info->client_addr;
    if (a->sa_family == AF_INET)
      inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(a)->sin_addr, text, sizeof text);
    else if (a->sa_family == AF_INET6)
      inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(a)->sin6_addr, text, sizeof text);
  }
  return text;
}

enum class Auth { Granted, Denied, TooSoon };

Auth authorize(MHD_Connection* c, Server::State& st) {
  char* password = nullptr;
  char* user = MHD_basic_auth_get_username_password(c, &password);
  Auth result = Auth::Denied;
  if (user && password) {
    const std::string address = client_address(c);
    const Clock::time_point now = Clock::now();
    bool too_soon = false;
    if (!st.auth->passed_before(user, password)) {
      std::lock_guard lock(st.failures_mutex);
      auto it = st.failures.find(address);
      too_soon = it != st.failures.end() && now < it->second.until;
    }
    if (too_soon) {
      result = Auth::TooSoon;
    } else if (st.auth->check(user, password)) {
      result = Auth::Granted;
      std::lock_guard lock(st.failures_mutex);
      st.failures.erase(address);
    } else {
      std::lock_guard lock(st.failures_mutex);
      if (st.failures.size() > 100000) std::erase_if(st.failures, [&](const auto& f) { return f.second.until < now; });
      auto& f = st.failures[address];
      f.count = std::min(f.count + 1, 6u);
      f.until = Clock::now() + std::chrono::seconds(1u << (f.count - 1));
    }
  }
  if (password) {
    std::memset(password, 0, std::strlen(password));
    MHD_free(password);
  }
  if (user) MHD_free(user);
  return result;
}

void notify_connection(void* cls, MHD_Connection* c, void**, MHD_ConnectionNotificationCode code) {
  auto& st = *static_cast<Server::State*>(cls);
  std::lock_guard lock(st.open_mutex);
  if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
    st.open.erase(c);
    return;
  }
  const MHD_ConnectionInfo* info = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
  if (info) st.open[c] = {info->connect_fd, Clock::now()};
}

// An answer is complete: the connection waits for its next request head from now.
void request_completed(void* cls, MHD_Connection* c, void**, MHD_RequestTerminationCode) {
  auto& st = *static_cast<Server::State*>(cls);
  std::lock_guard lock(st.open_mutex);
  auto it = st.open.find(c);
  if (it != st.open.end()) it->second.waiting_since = Clock::now();
}

MHD_Result handle(void* cls, MHD_Connection* c, const char* url, const char* method, const char*, const char*,
                  size_t*, void**) {
  auto& st = *static_cast<Server::State*>(cls);
  {
    std::lock_guard lock(st.open_mutex);
    auto it = st.open.find(c);
    if (it != st.open.end()) it->second.waiting_since.reset();
  }
  // Every answer is queued on the first call, before any request body is read: a write is
  // refused without taking its bytes.
  std::string_view path(url);
  if (st.auth && path.substr(0, 3) == "/v2") {
    Auth auth = authorize(c, st);
    if (auth != Auth::Granted) {
      Answer a;
      a.status = auth == Auth::TooSoon ? 429 : 401;
      a.headers = {{"Content-Type", "application/json"}, {"WWW-Authenticate", "Basic realm=\"sealift\""}};
      if (auth == Auth::TooSoon) a.headers.emplace_back("Retry-After", "1");
      a.body = auth == Auth::TooSoon ? error_body("TOOMANYREQUESTS", "wrong credentials from this address; try again later")
                                     : error_body("UNAUTHORIZED", "authentication required");
      return send(c, a, st.reader);
    }
  }
  Request r;
  r.method = method;
  r.path = path;
  r.range = header(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
  r.n = header(c, MHD_GET_ARGUMENT_KIND, "n", &r.has_n);
  r.last = header(c, MHD_GET_ARGUMENT_KIND, "last");
  r.artifact_type = header(c, MHD_GET_ARGUMENT_KIND, "artifactType");
  Answer a;
  try {
    a = st.content.answer(r);
  } catch (const std::exception& e) {
    // The URL is the client's, decoded: escaped so that it cannot forge log lines or drive a terminal.
    fmt::print(stderr, "sealift-install serve: {} {}: {}\n", util::escape_controls(method), util::escape_controls(url),
               util::escape_controls(e.what()));
    a = Answer{};
    a.status = 500;
    a.headers = {{"Content-Type", "application/json"}};
    a.body = error_body("UNKNOWN", "internal error");
  }
  return send(c, a, st.reader);
}

bool is_loopback(const std::string& host) {
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return inet_pton(AF_INET6, host.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

// TLS 1.2 and 1.3 only, whatever the GnuTLS defaults of the host.
constexpr const char* kTlsPriorities = "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2";

}  // namespace

void check_options(const ServerOptions& options) {
  if (options.tls_cert.empty() != options.tls_key.empty())
    throw Error(ErrorKind::Usage, "--tls-cert and --tls-key go together");
  const std::string host = parse_listen(options.listen).first;
  if (!options.htpasswd.empty() && options.tls_cert.empty() && !options.insecure_plain_auth && !is_loopback(host))
    throw Error(ErrorKind::Usage,
                fmt::format("--htpasswd without --tls-cert on {}: every client would send its password in clear",
                            options.listen),
                "serve HTTPS with --tls-cert and --tls-key, or listen on 127.0.0.1 behind a TLS proxy; "
                "--insecure-plain-auth allows it on a network you trust");
}

void check_servable(const bundle::ArchiveReader& reader) {
  const auto& frames = reader.frames();
  for (size_t i = 0; i < frames.size(); ++i) {
    if (!frames[i].has_checksum)
      throw Error(ErrorKind::Integrity,
                  fmt::format("{}: its seek table carries no frame checksums, which serve needs to notice a bundle "
                              "changed on disk after it was verified",
                              reader.file().name().string()),
                  "sealift-bundle writes them; this bundle was re-framed by something else: get the vendor's copy");
    if (frames[i].size > kMaxServedFrameSize)
      throw Error(ErrorKind::Integrity,
                  fmt::format("{}: zstd frame {} holds {} bytes, more than the {} serve decompresses for one blob",
                              reader.file().name().string(), i, frames[i].size, kMaxServedFrameSize),
                  "sealift-bundle writes 1 MiB frames; this bundle was re-framed by something else: get the "
                  "vendor's copy");
  }
}

std::pair<std::string, uint16_t> parse_listen(const std::string& listen) {
  std::string host;
  std::string port_text;
  if (!listen.empty() && listen.front() == '[') {
    size_t close = listen.find(']');
    if (close == std::string::npos || close + 1 >= listen.size() || listen[close + 1] != ':')
      throw Error(ErrorKind::Usage, fmt::format("--listen {}: not [IPv6]:PORT", listen));
    host = listen.substr(1, close - 1);
    port_text = listen.substr(close + 2);
  } else {
    size_t colon = listen.rfind(':');
    if (colon == std::string::npos) throw Error(ErrorKind::Usage, fmt::format("--listen {}: not HOST:PORT", listen));
    host = listen.substr(0, colon);
    port_text = listen.substr(colon + 1);
  }
  int port = -1;
  try {
    size_t used = 0;
    port = std::stoi(port_text, &used);
    if (used != port_text.size()) port = -1;
  } catch (const std::exception&) {
  }
  if (port < 0 || port > 65535) throw Error(ErrorKind::Usage, fmt::format("--listen {}: {} is not a port", listen, port_text));
  if (host.empty() || host == "localhost") host = host.empty() ? "0.0.0.0" : "127.0.0.1";
  return {host, static_cast<uint16_t>(port)};
}

Server::Server(const bundle::ArchiveReader& reader, const ServedBundle& content, const ServerOptions& options)
    : state_(std::make_unique<State>(reader, content)) {
  auto [host, port] = parse_listen(options.listen);
  host_ = host;
  sockaddr_in v4{};
  sockaddr_in6 v6{};
  const sockaddr* addr = nullptr;
  // poll(), not epoll: libmicrohttpd 0.9.75's epoll mode, once at the connection limit, went on
  // answering nothing for minutes after the connections that held every slot had closed
  // (Serve.ThousandsOfConcurrentConnectionsLeaveItAnswering); poll() has no descriptor limit.
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL;
  if (inet_pton(AF_INET, host.c_str(), &v4.sin_addr) == 1) {
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    addr = reinterpret_cast<const sockaddr*>(&v4);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6.sin6_addr) == 1) {
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(port);
    addr = reinterpret_cast<const sockaddr*>(&v6);
    flags |= MHD_USE_IPv6;
  } else {
    throw Error(ErrorKind::Usage, fmt::format("--listen {}: {} is not an IP address", options.listen, host),
                "listen on an address of this host, e.g. 0.0.0.0:5000 or 192.0.2.10:5000");
  }
  check_options(options);
  check_servable(reader);
  if (!options.htpasswd.empty()) state_->auth = std::make_unique<Htpasswd>(options.htpasswd);
  state_->head_timeout = std::chrono::seconds(options.head_timeout_seconds);

  std::vector<MHD_OptionItem> opts = {
      {MHD_OPTION_SOCK_ADDR, 0, const_cast<sockaddr*>(addr)},
      {MHD_OPTION_CONNECTION_LIMIT, static_cast<intptr_t>(options.max_connections), nullptr},
      {MHD_OPTION_PER_IP_CONNECTION_LIMIT, static_cast<intptr_t>(options.max_connections_per_address), nullptr},
      {MHD_OPTION_THREAD_POOL_SIZE, static_cast<intptr_t>(options.threads), nullptr},
      {MHD_OPTION_CONNECTION_TIMEOUT, static_cast<intptr_t>(options.idle_timeout_seconds), nullptr},
      {MHD_OPTION_NOTIFY_CONNECTION, reinterpret_cast<intptr_t>(&notify_connection), state_.get()},
      {MHD_OPTION_NOTIFY_COMPLETED, reinterpret_cast<intptr_t>(&request_completed), state_.get()},
  };
  if (!options.tls_cert.empty()) {
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
      throw Error(ErrorKind::Usage, "this libmicrohttpd was built without TLS", "serve plain HTTP behind a TLS proxy");
    state_->cert = util::read_file(options.tls_cert);
    state_->key = util::read_file(options.tls_key);
    struct stat st {};
    if (stat(options.tls_key.c_str(), &st) == 0 && (st.st_mode & S_IROTH))
      warnings_.push_back(fmt::format("the TLS key {} can be read by every user of this host; chmod o-r it",
                                      options.tls_key.string()));
    tls_ = true;
    flags |= MHD_USE_TLS;
    opts.push_back({MHD_OPTION_HTTPS_MEM_CERT, 0, state_->cert.data()});
    opts.push_back({MHD_OPTION_HTTPS_MEM_KEY, 0, state_->key.data()});
    opts.push_back({MHD_OPTION_HTTPS_PRIORITIES, 0, const_cast<char*>(kTlsPriorities)});
  }
  opts.push_back({MHD_OPTION_END, 0, nullptr});
  state_->daemon = MHD_start_daemon(flags, port, nullptr, nullptr, &handle, state_.get(), MHD_OPTION_ARRAY, opts.data(),
                                    MHD_OPTION_END);
  if (!state_->daemon)
    throw Error(ErrorKind::Io,
                fmt::format("cannot serve on {}{}", options.listen, tls_ ? " with the given TLS certificate and key" : ""),
                "is the address in use, or not one of this host's? Are the certificate and key PEM files that match?");
  const MHD_DaemonInfo* info = MHD_get_daemon_info(state_->daemon, MHD_DAEMON_INFO_BIND_PORT);
  port_ = info ? info->port : port;
  state_->watchdog = std::thread([st = state_.get()] { st->watch(); });
}

Server::~Server() {
  {
    std::lock_guard lock(state_->open_mutex);
    state_->stopping = true;
  }
  state_->stop_watchdog.notify_all();
  if (state_->watchdog.joinable()) state_->watchdog.join();
  if (state_->daemon) MHD_stop_daemon(state_->daemon);
}

std::string Server::url() const {
  std::string host = host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_;
  return fmt::format("{}://{}:{}", tls_ ? "https" : "http", host, port_);
}

}  // namespace sealift::serve
