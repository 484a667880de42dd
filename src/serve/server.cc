#include "serve/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>

#include <cstring>
#include <vector>

#include <fmt/format.h>

#include "serve/route.h"
#include "util/encoding.h"
#include "util/error.h"
#include "util/fs.h"

namespace sealift::serve {

struct Server::State {
  State(const bundle::ArchiveReader& r, const ServedBundle& c) : reader(r), content(c) {}
  const bundle::ArchiveReader& reader;
  const ServedBundle& content;
  std::unique_ptr<Htpasswd> auth;
  std::string cert, key;  // PEM, alive as long as the daemon
  MHD_Daemon* daemon = nullptr;
};

namespace {

// One blob answer being sent: its entry is opened on the first read (a HEAD never opens it).
struct BlobStream {
  const bundle::ArchiveReader* reader;
  std::string entry;
  uint64_t offset = 0;
  uint64_t remaining = 0;
  std::unique_ptr<bundle::EntrySource> source;
};

ssize_t read_blob(void* cls, uint64_t, char* buf, size_t max) {
  auto* s = static_cast<BlobStream*>(cls);
  if (s->remaining == 0) return MHD_CONTENT_READER_END_OF_STREAM;
  try {
    if (!s->source) s->source = s->reader->open_at(s->entry, s->offset);
    size_t want = static_cast<size_t>(std::min<uint64_t>(max, s->remaining));
    size_t n = s->source->read(std::span(reinterpret_cast<std::byte*>(buf), want));
    if (n == 0) return MHD_CONTENT_READER_END_WITH_ERROR;
    s->remaining -= n;
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
    auto* stream = new BlobStream{&reader, a.entry, a.offset, a.length, nullptr};
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

bool authorized(MHD_Connection* c, const Htpasswd& auth) {
  char* password = nullptr;
  char* user = MHD_basic_auth_get_username_password(c, &password);
  bool ok = user && password && auth.check(user, password);
  if (password) {
    std::memset(password, 0, std::strlen(password));
    MHD_free(password);
  }
  if (user) MHD_free(user);
  return ok;
}

MHD_Result handle(void* cls, MHD_Connection* c, const char* url, const char* method, const char*, const char*,
                  size_t*, void**) {
  const auto& st = *static_cast<const Server::State*>(cls);
  // Every answer is queued on the first call, before any request body is read: a write is
  // refused without taking its bytes.
  std::string_view path(url);
  if (st.auth && path.substr(0, 3) == "/v2" && !authorized(c, *st.auth)) {
    Answer a;
    a.status = 401;
    a.headers = {{"Content-Type", "application/json"}, {"WWW-Authenticate", "Basic realm=\"sealift\""}};
    a.body = error_body("UNAUTHORIZED", "authentication required");
    return send(c, a, st.reader);
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

}  // namespace

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
  if (options.tls_cert.empty() != options.tls_key.empty())
    throw Error(ErrorKind::Usage, "--tls-cert and --tls-key go together");
  if (!options.htpasswd.empty()) state_->auth = std::make_unique<Htpasswd>(options.htpasswd);

  std::vector<MHD_OptionItem> opts = {
      {MHD_OPTION_SOCK_ADDR, 0, const_cast<sockaddr*>(addr)},
      {MHD_OPTION_CONNECTION_LIMIT, static_cast<intptr_t>(options.max_connections), nullptr},
      {MHD_OPTION_THREAD_POOL_SIZE, static_cast<intptr_t>(options.threads), nullptr},
      {MHD_OPTION_CONNECTION_TIMEOUT, static_cast<intptr_t>(options.idle_timeout_seconds), nullptr},
  };
  if (!options.tls_cert.empty()) {
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
      throw Error(ErrorKind::Usage, "this libmicrohttpd was built without TLS", "serve plain HTTP behind a TLS proxy");
    state_->cert = util::read_file(options.tls_cert);
    state_->key = util::read_file(options.tls_key);
    tls_ = true;
    flags |= MHD_USE_TLS;
    opts.push_back({MHD_OPTION_HTTPS_MEM_CERT, 0, state_->cert.data()});
    opts.push_back({MHD_OPTION_HTTPS_MEM_KEY, 0, state_->key.data()});
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
}

Server::~Server() {
  if (state_->daemon) MHD_stop_daemon(state_->daemon);
}

std::string Server::url() const {
  std::string host = host_.find(':') != std::string::npos ? "[" + host_ + "]" : host_;
  return fmt::format("{}://{}:{}", tls_ ? "https" : "http", host, port_);
}

}  // namespace sealift::serve
