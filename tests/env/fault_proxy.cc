#include "env/fault_proxy.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <memory>
#include <stdexcept>

namespace sealift::testenv {

using Clock = std::chrono::steady_clock;

FaultRule FaultRule::respond(std::string method, std::string path_part, int status, int times) {
  FaultRule r;
  r.method = std::move(method);
  r.path_part = std::move(path_part);
  r.fault = Fault::Respond;
  r.status = status;
  r.times = times;
  return r;
}

FaultRule FaultRule::drop_request(std::string method, std::string path_part, uint64_t after_bytes, int times) {
  FaultRule r;
  r.method = std::move(method);
  r.path_part = std::move(path_part);
  r.fault = Fault::DropRequest;
  r.after_bytes = after_bytes;
  r.times = times;
  return r;
}

FaultRule FaultRule::drop_response(std::string method, std::string path_part, uint64_t after_bytes, int times) {
  FaultRule r = drop_request(std::move(method), std::move(path_part), after_bytes, times);
  r.fault = Fault::DropResponse;
  return r;
}

namespace {

constexpr size_t kMaxHead = 64 * 1024;
constexpr size_t kBufferCap = 1 << 20;  // read no further ahead than this: back-pressure

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The parts of an HTTP/1.1 message head the proxy needs.
struct Head {
  std::string first;  // request or status line
  std::vector<std::pair<std::string, std::string>> headers;  // lowercase names

  std::string header(const std::string& name) const {
    for (const auto& [n, v] : headers)
      if (n == name) return v;
    return {};
  }
  bool has(const std::string& name) const {
    return std::any_of(headers.begin(), headers.end(), [&](const auto& h) { return h.first == name; });
  }
};

Head parse_head(std::string_view text) {
  Head h;
  size_t eol = text.find("\r\n");
  h.first = std::string(text.substr(0, eol));
  size_t pos = eol == std::string_view::npos ? text.size() : eol + 2;
  while (pos < text.size()) {
    size_t end = text.find("\r\n", pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    pos = end + 2;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
    h.headers.emplace_back(lower(std::string(line.substr(0, colon))), std::string(value));
  }
  return h;
}

// Where a message body ends: by Content-Length, by chunked framing, or at the end of the stream.
class BodyTracker {
 public:
  enum class Mode { None, Length, Chunked, UntilClose };

  void start(Mode mode, uint64_t length = 0) {
    mode_ = mode;
    left_ = length;
    state_ = State::Size;
    line_.clear();
    done_ = mode == Mode::None || (mode == Mode::Length && length == 0);
  }
  bool done() const { return done_; }
  void finish_at_close() {
    if (mode_ == Mode::UntilClose) done_ = true;
  }

  // How many of these bytes belong to the body (all of them until it ends).
  size_t consume(const char* p, size_t n) {
    if (done_) return 0;
    if (mode_ == Mode::UntilClose) return n;
    if (mode_ == Mode::Length) {
      size_t take = static_cast<size_t>(std::min<uint64_t>(left_, n));
      left_ -= take;
      done_ = left_ == 0;
      return take;
    }
    size_t i = 0;
    while (i < n && !done_) {
      switch (state_) {
        case State::Size:
        case State::Trailer: {
          char c = p[i++];
          if (c != '\n') {
            line_ += c;
            break;
          }
          if (!line_.empty() && line_.back() == '\r') line_.pop_back();
          if (state_ == State::Trailer) {
            if (line_.empty()) done_ = true;
          } else {
            left_ = std::strtoull(line_.c_str(), nullptr, 16);
            state_ = left_ == 0 ? State::Trailer : State::Data;
          }
          line_.clear();
          break;
        }
        case State::Data: {
          size_t take = static_cast<size_t>(std::min<uint64_t>(left_, n - i));
          i += take;
          left_ -= take;
          if (left_ == 0) state_ = State::DataEnd, left_ = 2;
          break;
        }
        case State::DataEnd:
          ++i;
          if (--left_ == 0) state_ = State::Size;
          break;
      }
    }
    return i;
  }

 private:
  enum class State { Size, Data, DataEnd, Trailer };
  Mode mode_ = Mode::None;
  State state_ = State::Size;
  uint64_t left_ = 0;
  std::string line_;
  bool done_ = true;
};

std::string reason(int status) {
  switch (status) {
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Injected";
  }
}

// What a registry (or the proxy in front of it, for 502) would say.
std::string canned_response(const FaultRule& rule, bool head_request) {
  std::string body, type;
  if (rule.status == 502 || rule.status == 504) {
    type = "text/html";
    body = "<html><body><h1>" + std::to_string(rule.status) + " " + reason(rule.status) + "</h1></body></html>\n";
  } else {
    type = "application/json";
    std::string code = rule.status == 429 ? "TOOMANYREQUESTS" : "UNKNOWN";
    body = "{\"errors\":[{\"code\":\"" + code + "\",\"message\":\"injected by the test fault proxy\"}]}\n";
  }
  std::string out = "HTTP/1.1 " + std::to_string(rule.status) + " " + reason(rule.status) + "\r\n";
  out += "Content-Type: " + type + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
  if (!rule.retry_after.empty()) out += "Retry-After: " + rule.retry_after + "\r\n";
  out += "\r\n";
  if (!head_request) out += body;
  return out;
}

bool wait_writable(int fd, const bool& stopping, std::mutex& mu) {
  for (int i = 0; i < 1200; ++i) {  // two minutes at most
    pollfd p{fd, POLLOUT, 0};
    int r = poll(&p, 1, 100);
    if (r > 0) return (p.revents & (POLLERR | POLLHUP | POLLNVAL)) == 0;
    if (r < 0 && errno != EINTR) return false;
    std::lock_guard lock(mu);
    if (stopping) return false;
  }
  return false;
}

}  // namespace

// One request and its answer on one connection.
struct Exchange {
  size_t log_index = 0;
  int rule = -1;
  FaultRule action;
  bool head_request = false;
  bool respond = false;        // the proxy answers itself
  bool request_done = false;   // the whole request arrived
  bool answered = false;       // the proxy's own answer is queued
  uint64_t request_head = 0, response_head = 0;  // head sizes (interim answers included)
  uint64_t request_sent = 0;   // bytes forwarded to the server
  uint64_t response_sent = 0;  // bytes forwarded to the client
  bool stalled_request = false, stalled_response = false;

  bool has(Fault f) const { return rule >= 0 && action.fault == f; }
};

// Bytes flowing one way, cut into the exchanges they belong to.
struct Flow {
  std::string buf;     // received, not forwarded yet
  size_t framed = 0;   // the first `framed` bytes of buf are assigned to `segments`
  std::deque<std::pair<Exchange*, size_t>> segments;
  BodyTracker body;
  Exchange* in_body = nullptr;  // the exchange whose body is being framed
  bool eof = false;
  // A stall in progress.
  bool holding = false;
  bool hold_forever = false;
  Clock::time_point hold_until;
  // Slow: token bucket.
  double tokens = 0;
  Clock::time_point refilled = Clock::now();

  void assign(Exchange* e, size_t n) {
    if (n == 0) return;
    if (!segments.empty() && segments.back().first == e) segments.back().second += n;
    else segments.emplace_back(e, n);
    framed += n;
  }
  void drop_front(size_t n) {
    buf.erase(0, n);
    framed -= n;
    segments.front().second -= n;
    if (segments.front().second == 0) segments.pop_front();
  }
};

struct FaultProxy::Connection {
  int client = -1;
  int server = -1;
  std::deque<std::unique_ptr<Exchange>> exchanges;  // in request order
  size_t next_response = 0;  // index in `exchanges` of the next one to be answered
  Flow up, down;             // client -> server, server -> client

  ~Connection() {
    if (client >= 0) close(client);
    if (server >= 0) close(server);
  }
};

FaultProxy::FaultProxy(int upstream_port) : upstream_port_(upstream_port) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listen_fd_, 128) != 0) {
    close(listen_fd_);
    throw std::runtime_error(std::string("fault proxy: cannot listen on 127.0.0.1: ") + std::strerror(errno));
  }
  socklen_t len = sizeof a;
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

FaultProxy::~FaultProxy() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  changed_.notify_all();
  acceptor_.join();
  for (auto& t : connections_) t.join();
  close(listen_fd_);
}

std::string FaultProxy::host() const { return "127.0.0.1:" + std::to_string(port_); }

int FaultProxy::add(FaultRule rule) {
  std::lock_guard lock(mu_);
  rules_.push_back({std::move(rule)});
  return static_cast<int>(rules_.size()) - 1;
}

void FaultProxy::clear() {
  std::lock_guard lock(mu_);
  for (auto& r : rules_) r.active = false;
}

size_t FaultProxy::requests(const std::string& method, const std::string& path_part) const {
  std::lock_guard lock(mu_);
  return static_cast<size_t>(std::count_if(log_.begin(), log_.end(), [&](const ProxiedRequest& r) {
    return (method.empty() || r.method == method) && r.path.find(path_part) != std::string::npos;
  }));
}

size_t FaultProxy::faults() const {
  std::lock_guard lock(mu_);
  return faults_;
}

size_t FaultProxy::faults(int rule) const {
  std::lock_guard lock(mu_);
  return rule >= 0 && static_cast<size_t>(rule) < rules_.size() ? rules_[static_cast<size_t>(rule)].fired : 0;
}

std::vector<ProxiedRequest> FaultProxy::log() const {
  std::lock_guard lock(mu_);
  return log_;
}

bool FaultProxy::wait_for_faults(size_t n, double timeout_s) const {
  std::unique_lock lock(mu_);
  return changed_.wait_for(lock, std::chrono::duration<double>(timeout_s), [&] { return faults_ >= n || stopping_; }) &&
         faults_ >= n;
}

size_t FaultProxy::stalled() const {
  std::lock_guard lock(mu_);
  return stalled_;
}

int FaultProxy::decide(uint64_t connection, const std::string& method, const std::string& path, FaultRule& out,
                       size_t& log_index) {
  std::lock_guard lock(mu_);
  ProxiedRequest entry;
  entry.connection = connection;
  entry.method = method;
  entry.path = path;
  entry.at = Clock::now();
  int chosen = -1;
  for (size_t i = 0; i < rules_.size() && chosen < 0; ++i) {
    RuleState& r = rules_[i];
    if (!r.active) continue;
    if (!r.rule.method.empty() && r.rule.method != method) continue;
    if (path.find(r.rule.path_part) == std::string::npos) continue;
    ++r.matched;
    bool fires = r.rule.nth > 0 ? r.matched == r.rule.nth : (r.rule.times < 0 || r.matched <= r.rule.times);
    if (!fires) continue;
    chosen = static_cast<int>(i);
    out = r.rule;
    // Answers and slow-downs happen for sure; drops and stalls only once their byte arrives.
    if (out.fault == Fault::Respond || out.fault == Fault::Slow) ++r.fired, ++faults_;
  }
  entry.rule = chosen;
  if (chosen >= 0) entry.fault = out.fault;
  log_index = log_.size();
  log_.push_back(std::move(entry));
  changed_.notify_all();
  return chosen;
}

void FaultProxy::fired(int rule) {
  {
    std::lock_guard lock(mu_);
    ++rules_[static_cast<size_t>(rule)].fired;
    ++faults_;
  }
  changed_.notify_all();
}

void FaultProxy::set_status(size_t log_index, int status) {
  std::lock_guard lock(mu_);
  log_[log_index].status = status;
}

void FaultProxy::stall_begins() {
  std::lock_guard lock(mu_);
  ++stalled_;
}

void FaultProxy::stall_ends() {
  std::lock_guard lock(mu_);
  --stalled_;
}

void FaultProxy::accept_loop() {
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 100) <= 0) continue;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) continue;
    std::lock_guard lock(mu_);
    uint64_t id = ++next_connection_;
    connections_.emplace_back([this, id, fd] { serve(id, fd); });
  }
}

void FaultProxy::serve(uint64_t id, int client_fd) {
  Connection c;
  c.client = client_fd;
  int one = 1;
  setsockopt(c.client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  int holds = 0;  // stalls of this connection counted in stalled_

  auto connect_upstream = [&]() -> bool {
    c.server = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(upstream_port_));
    if (connect(c.server, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return false;
    setsockopt(c.server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(c.server, F_SETFL, fcntl(c.server, F_GETFL) | O_NONBLOCK);
    return true;
  };
  auto write_all = [&](int fd, const char* p, size_t n) -> bool {
    while (n > 0) {
      ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
      if (w > 0) {
        p += w;
        n -= static_cast<size_t>(w);
        continue;
      }
      if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        if (!wait_writable(fd, stopping_, mu_)) return false;
        continue;
      }
      return false;
    }
    return true;
  };
  auto begin_hold = [&](Flow& f, const Exchange& e) {
    f.holding = true;
    f.hold_forever = e.action.stall_s < 0;
    f.hold_until = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(std::max(0.0, e.action.stall_s)));
    ++holds;
    stall_begins();
    fired(e.rule);
  };
  auto end_hold = [&](Flow& f) {
    f.holding = false;
    --holds;
    stall_ends();
  };
  // How many bytes a slowed flow may send now.
  auto allowance = [&](Flow& f, uint64_t rate) -> size_t {
    auto now = Clock::now();
    f.tokens += std::chrono::duration<double>(now - f.refilled).count() * static_cast<double>(rate);
    f.refilled = now;
    f.tokens = std::min(f.tokens, std::max(1.0, static_cast<double>(rate) / 10));
    return static_cast<size_t>(f.tokens);
  };

  // Cuts the client's bytes into requests; decides each request's fate as its head arrives.
  auto frame_requests = [&]() -> bool {
    Flow& f = c.up;
    while (f.framed < f.buf.size()) {
      if (f.in_body) {
        size_t n = f.body.consume(f.buf.data() + f.framed, f.buf.size() - f.framed);
        f.assign(f.in_body, n);
        if (f.body.done()) f.in_body->request_done = true, f.in_body = nullptr;
        continue;
      }
      size_t end = f.buf.find("\r\n\r\n", f.framed);
      if (end == std::string::npos) return f.buf.size() - f.framed <= kMaxHead;
      Head head = parse_head(std::string_view(f.buf).substr(f.framed, end - f.framed));
      auto e = std::make_unique<Exchange>();
      std::string method = head.first.substr(0, head.first.find(' '));
      size_t sp = head.first.find(' ');
      std::string target = sp == std::string::npos ? "" : head.first.substr(sp + 1, head.first.rfind(' ') - sp - 1);
      e->head_request = method == "HEAD";
      e->rule = decide(id, method, target, e->action, e->log_index);
      e->respond = e->has(Fault::Respond);
      e->request_head = end + 4 - f.framed;
      f.assign(e.get(), end + 4 - f.framed);
      if (lower(head.header("transfer-encoding")).find("chunked") != std::string::npos)
        f.body.start(BodyTracker::Mode::Chunked);
      else if (head.has("content-length"))
        f.body.start(BodyTracker::Mode::Length, std::strtoull(head.header("content-length").c_str(), nullptr, 10));
      else
        f.body.start(BodyTracker::Mode::None);
      if (f.body.done()) e->request_done = true;
      else f.in_body = e.get();
      c.exchanges.push_back(std::move(e));
    }
    return true;
  };

  // Cuts the server's bytes into answers, in request order; queues the proxy's own answers.
  auto frame_responses = [&]() -> bool {
    Flow& f = c.down;
    for (;;) {
      if (c.next_response >= c.exchanges.size()) return f.framed == f.buf.size();
      Exchange* e = c.exchanges[c.next_response].get();
      if (e->respond) {
        if (!e->request_done) return true;
        std::string answer = canned_response(e->action, e->head_request);
        f.buf.insert(f.framed, answer);
        f.assign(e, answer.size());
        set_status(e->log_index, e->action.status);
        ++c.next_response;
        continue;
      }
      if (f.in_body) {
        size_t n = f.body.consume(f.buf.data() + f.framed, f.buf.size() - f.framed);
        f.assign(e, n);
        if (f.eof) f.body.finish_at_close();
        if (!f.body.done()) return true;
        f.in_body = nullptr;
        ++c.next_response;
        continue;
      }
      size_t end = f.buf.find("\r\n\r\n", f.framed);
      if (end == std::string::npos) return f.buf.size() - f.framed <= kMaxHead;
      Head head = parse_head(std::string_view(f.buf).substr(f.framed, end - f.framed));
      int status = std::atoi(head.first.substr(head.first.find(' ') + 1).c_str());
      e->response_head += end + 4 - f.framed;
      f.assign(e, end + 4 - f.framed);
      if (status >= 100 && status < 200 && status != 101) continue;  // an interim answer; the real one follows
      set_status(e->log_index, status);
      if (e->head_request || status == 204 || status == 304)
        f.body.start(BodyTracker::Mode::None);
      else if (lower(head.header("transfer-encoding")).find("chunked") != std::string::npos)
        f.body.start(BodyTracker::Mode::Chunked);
      else if (head.has("content-length"))
        f.body.start(BodyTracker::Mode::Length, std::strtoull(head.header("content-length").c_str(), nullptr, 10));
      else
        f.body.start(BodyTracker::Mode::UntilClose);
      f.in_body = e;
    }
  };

  // Forwards what the faults allow. False: the connection is to be closed.
  auto forward = [&](Flow& f, bool upward) -> bool {
    while (!f.segments.empty()) {
      if (f.holding) {
        if (f.hold_forever || Clock::now() < f.hold_until) return true;
        end_hold(f);
      }
      Exchange& e = *f.segments.front().first;
      size_t n = f.segments.front().second;
      if (upward && e.respond) {  // the proxy answers: the request never reaches the server
        f.drop_front(n);
        continue;
      }
      uint64_t& sent = upward ? e.request_sent : e.response_sent;
      Fault drop = upward ? Fault::DropRequest : Fault::DropResponse;
      Fault stall = upward ? Fault::StallRequest : Fault::StallResponse;
      bool& stalled = upward ? e.stalled_request : e.stalled_response;
      bool dropping = false, stalling = false;
      uint64_t at = e.action.after_bytes + (e.action.from_body ? (upward ? e.request_head : e.response_head) : 0);
      if ((e.has(drop) || (e.has(stall) && !stalled)) && sent + n >= at) {
        n = static_cast<size_t>(at - sent);
        (e.has(drop) ? dropping : stalling) = true;
      }
      if (e.has(Fault::Slow)) {
        size_t allowed = allowance(f, e.action.bytes_per_s);
        if (allowed == 0) return true;
        if (allowed < n) n = allowed, dropping = stalling = false;
        f.tokens -= static_cast<double>(n);
      }
      if (n > 0) {
        if (upward && c.server < 0 && !connect_upstream()) return false;
        if (!write_all(upward ? c.server : c.client, f.buf.data(), n)) return false;
        sent += n;
        f.drop_front(n);
      }
      if (dropping) {
        fired(e.rule);
        return false;
      }
      if (stalling) {
        stalled = true;
        begin_hold(f, e);
      }
    }
    return true;
  };

  auto receive = [&](int fd, Flow& f) {
    char chunk[64 * 1024];
    for (;;) {
      ssize_t r = recv(fd, chunk, sizeof chunk, 0);
      if (r > 0) {
        f.buf.append(chunk, static_cast<size_t>(r));
        if (f.buf.size() >= kBufferCap) return;
        continue;
      }
      if (r == 0) f.eof = true;
      else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) f.eof = true;
      return;
    }
  };

  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
    }
    // A side whose bytes pile up (held or slowed) is not read from until there is room again:
    // its bytes wait in the kernel, its end (recv() == 0) is seen once they are read.
    pollfd fds[2];
    int nfds = 0, client_at = -1, server_at = -1;
    if (c.up.buf.size() < kBufferCap) client_at = nfds, fds[nfds++] = {c.client, POLLIN, 0};
    if (c.server >= 0 && !c.down.eof && c.down.buf.size() < kBufferCap) server_at = nfds, fds[nfds++] = {c.server, POLLIN, 0};
    int timeout = 100;
    if (c.up.holding || c.down.holding) timeout = 20;
    else if (!c.up.segments.empty() || !c.down.segments.empty()) timeout = 5;  // slowed bytes wait for tokens
    int ready = poll(fds, static_cast<nfds_t>(nfds), timeout);
    if (ready < 0 && errno != EINTR) break;
    if (client_at >= 0 && fds[client_at].revents) receive(c.client, c.up);
    if (server_at >= 0 && fds[server_at].revents) receive(c.server, c.down);
    // A client that went away ends the connection: nobody waits for the answers.
    if (c.up.eof) break;
    if (!frame_requests() || !forward(c.up, true)) break;
    bool framed = frame_responses();
    if (!forward(c.down, false)) break;
    if (!framed) break;  // bytes the proxy cannot place: pass nothing further
    // The server closed: once its last bytes are out, close the client too.
    if (c.down.eof && c.down.buf.empty()) break;
  }
  while (holds > 0) {
    --holds;
    stall_ends();
  }
}

}  // namespace sealift::testenv
