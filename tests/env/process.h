// Processes, ports and scratch directories for the test environment. Every server a test starts is
// a child process stopped by its own pid (never by name), on 127.0.0.1 and a free port.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace sealift::testenv {

// A scratch directory removed (recursively) on destruction unless SEALIFT_KEEP_TMP is set.
class TempDir {
 public:
  explicit TempDir(const std::string& prefix = "sealift-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

// A port on 127.0.0.1 that was free a moment ago (bind to port 0, read it back, close).
int free_port();

// Waits until something accepts TCP connections on 127.0.0.1:port; false on timeout.
bool wait_for_port(int port, double timeout_seconds);

// A child process with stdout and stderr going to a log file. The destructor stops it
// (SIGTERM, then SIGKILL after a grace period) and reaps it.
class Process {
 public:
  Process() = default;
  Process(std::vector<std::string> argv, std::filesystem::path log,
          std::map<std::string, std::string> env = {}, std::filesystem::path cwd = {});
  ~Process();
  Process(Process&& o) noexcept;
  Process& operator=(Process&& o) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  // SIGTERM, wait up to grace seconds, then SIGKILL; idempotent.
  void stop(double grace_seconds = 5);
  // SIGKILL right away (to simulate a crash).
  void kill();
  const std::filesystem::path& log() const { return log_; }
  std::string log_tail(size_t bytes = 4000) const;

 private:
  pid_t pid_ = -1;
  std::filesystem::path log_;
};

struct RunResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// How a run ended, for a test failure message: the exit code, stdout and stderr.
std::string said(const RunResult& r);

// Runs a command to completion and captures its output. stdin_data is fed to its stdin.
RunResult run(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {},
              const std::string& stdin_data = {}, double timeout_seconds = 600);

// Where the real peers live: $SEALIFT_PEERS (default ~/.cache/sealift/peers). peer("helm") returns
// the path of the built binary, or fails the test with a hint to run scripts/setup.sh.
std::filesystem::path peers_dir();
std::string peer(const std::string& name);
// The helm peers sealift is tested against, by peer name: "helm" (helm 3) and "helm4" (helm 4),
// both built by scripts/setup.sh. Tests that exercise the flags sealift gives helm run with each.
const std::vector<std::string>& helm_peers();
// For test names: "helm" -> "helm3", "helm4" -> "helm4".
std::string helm_case_name(const std::string& helm_peer);

// Paths of this build's programs.
std::string bundle_program();   // sealift-bundle
std::string install_program();  // sealift-install
std::filesystem::path source_dir();

// Sets (or, with nullopt, removes) an environment variable for one scope.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, std::optional<std::string> value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace sealift::testenv
