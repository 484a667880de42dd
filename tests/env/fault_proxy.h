// A TCP fault proxy for tests: listens on 127.0.0.1 and a free port and forwards every connection
// to a real server (a docker-registry from env/registry.h, the Harbor-like target from
// env/harbor.h), injecting the faults a flaky network or an overloaded registry produces, on the
// requests a test chooses:
//   - drop the connection after N bytes of a request (client -> server) or of its answer
//     (server -> client);
//   - stall: hold the bytes after N of them for T seconds, or for as long as the connection lives;
//   - slow: let the bytes through at a given rate;
//   - answer 500, 429 (with Retry-After) or 502 itself without asking the server.
// It reads plain HTTP/1.1 only as far as it must to find where each request and each answer ends
// (request line, Content-Length, chunked bodies, keep-alive), forwards every byte unchanged
// (the Host header too, so the registry's Location URLs point back at the proxy), and counts the
// requests it saw and the faults it injected, so that tests can assert a fault really happened.
// Rules change at run time; a rule applies to the requests that start after it was added.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sealift::testenv {

enum class Fault {
  DropRequest,   // close both sides after `after_bytes` bytes of the request (head included)
  DropResponse,  // close both sides after `after_bytes` bytes of the answer (head included)
  StallRequest,  // hold the request after `after_bytes` bytes for `stall_s` (< 0: for good)
  StallResponse, // hold the answer after `after_bytes` bytes for `stall_s` (< 0: for good)
  Slow,          // request and answer at `bytes_per_s`
  Respond,       // answer `status` (with `retry_after` when set) without forwarding the request
};

struct FaultRule {
  // Which requests: method ("" = any) and a substring of the path with its query ("" = any).
  std::string method;
  std::string path_part;
  // Of the matching requests, the `nth` (1 = the first matching one after the rule was added), or
  // with nth = 0 the next `times` of them (times < 0: every one, a permanent fault).
  int nth = 0;
  int times = 1;

  Fault fault = Fault::Respond;
  uint64_t after_bytes = 0;
  bool from_body = false;  // count after_bytes from the first body byte instead of the head's first
  double stall_s = -1;
  uint64_t bytes_per_s = 0;
  int status = 500;
  std::string retry_after;  // e.g. "1"; sent with the answer when not empty

  // Shorthands.
  static FaultRule respond(std::string method, std::string path_part, int status, int times = 1);
  static FaultRule drop_request(std::string method, std::string path_part, uint64_t after_bytes, int times = 1);
  static FaultRule drop_response(std::string method, std::string path_part, uint64_t after_bytes, int times = 1);
};

// One request the proxy saw, in the order they started.
struct ProxiedRequest {
  uint64_t connection = 0;
  std::string method;
  std::string path;
  std::chrono::steady_clock::time_point at;
  int status = 0;        // the server's (or the proxy's own) answer; 0 when none got through
  int rule = -1;         // index of the rule that fired on it (as add() returned), -1 for none
  Fault fault = Fault::Respond;
};

class FaultProxy {
 public:
  // Forwards to 127.0.0.1:upstream_port.
  explicit FaultProxy(int upstream_port);
  // Closes every connection and joins every thread.
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  // "127.0.0.1:PORT", to give a client instead of the server's.
  std::string host() const;
  int port() const { return port_; }

  // Adds a rule; returns its index. Rules are tried in the order they were added; the first that
  // matches a request (and has occurrences left) fires on it.
  int add(FaultRule rule);
  // Forgets every rule (faults already under way, e.g. a stall for good, go on).
  void clear();

  // Requests seen, in all or matching (method "" = any, path substring).
  size_t requests(const std::string& method = {}, const std::string& path_part = {}) const;
  // Faults injected by all rules, or by rule `rule`.
  size_t faults() const;
  size_t faults(int rule) const;
  // Every request seen so far.
  std::vector<ProxiedRequest> log() const;
  // Blocks until `n` faults were injected in total or `timeout_s` passed; false on timeout.
  bool wait_for_faults(size_t n, double timeout_s) const;
  // Connections currently held by a stall.
  size_t stalled() const;

 private:
  struct Connection;
  struct RuleState {
    FaultRule rule;
    int matched = 0;   // matching requests seen since the rule was added
    size_t fired = 0;  // faults injected
    bool active = true;
  };

  void accept_loop();
  void serve(uint64_t id, int client_fd);
  // Decides what happens to a request that starts now; logs it. Returns the rule index or -1.
  int decide(uint64_t connection, const std::string& method, const std::string& path, FaultRule& out, size_t& log_index);
  void fired(int rule);
  void set_status(size_t log_index, int status);
  void stall_begins();
  void stall_ends();

  int upstream_port_;
  int port_ = 0;
  int listen_fd_ = -1;
  std::thread acceptor_;
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  bool stopping_ = false;
  std::vector<RuleState> rules_;
  std::vector<ProxiedRequest> log_;
  size_t faults_ = 0;
  size_t stalled_ = 0;
  uint64_t next_connection_ = 0;
  std::vector<std::thread> connections_;
};

}  // namespace sealift::testenv
