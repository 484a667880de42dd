#include "util/process.h"

#include <fcntl.h>
#include <features.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>

#include "util/error.h"

extern char** environ;

// posix_spawn can change the child's directory and close its other descriptors from glibc 2.34
// on; before that (the portable build's floor, 2.28), spawn() forks (fork_exec).
#if __GLIBC_PREREQ(2, 34)
#define SEALIFT_SPAWN_NP 1
#else
#define SEALIFT_SPAWN_NP 0
#endif

namespace sealift::util {

namespace {

using Clock = std::chrono::steady_clock;

// Owns a file descriptor and closes it once.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = o.fd_;
      o.fd_ = -1;
    }
    return *this;
  }
  int get() const { return fd_; }
  bool open() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read, write;
};

Pipe make_pipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0)
    throw Error(ErrorKind::Internal, fmt::format("cannot create a pipe: {}", std::strerror(errno)));
  Pipe p;
  p.read = Fd(fds[0]);
  p.write = Fd(fds[1]);
  return p;
}

// What a child (helm, its plugins, the kubeconfig's credential plugins) gets from our environment:
// an allow-list, so that no secret the user exported for sealift (COSIGN_PASSWORD,
// SEALIFT_REGISTRY_PASSWORD, SEALIFT_PULL_PASSWORD) nor any unrelated one (FOO_TOKEN, cloud keys)
// reaches a program sealift did not write. Anything else a child needs is passed by name in
// ProcessOptions::env. Each entry and why:
constexpr std::string_view kPassedVariables[] = {
    "PATH",           // helm runs its plugins and kubeconfig exec credential plugins from it
    "HOME",           // helm's default config, cache and data directories; ~/.kube/config
    "TMPDIR",         // where helm and Go put temporary files
    "LANG", "TZ",     // messages and times as the user reads them (LC_* below)
    "KUBECONFIG",     // which cluster: the user's choice (--kubeconfig sets it explicitly)
    "http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",  // Go honours both cases; an
                      // air-gapped site often reaches its cluster API through a proxy
    "SSL_CERT_FILE", "SSL_CERT_DIR",  // Go's trust store override, for a private CA of Harbor or the cluster
};
// HELM_* is helm's own configuration (HELM_KUBECONTEXT, HELM_CACHE_HOME, HELM_REGISTRY_CONFIG,
// HELM_KUBETOKEN for the cluster): none carries a sealift secret. XDG_* places helm's config,
// cache and data directories. LC_* is the locale.
constexpr std::string_view kPassedPrefixes[] = {"HELM_", "XDG_", "LC_"};

bool passed_to_children(std::string_view name) {
  if (std::find(std::begin(kPassedVariables), std::end(kPassedVariables), name) != std::end(kPassedVariables))
    return true;
  return std::any_of(std::begin(kPassedPrefixes), std::end(kPassedPrefixes),
                     [&](std::string_view prefix) { return name.size() > prefix.size() && name.starts_with(prefix); });
}

std::vector<std::string> child_environment(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> all;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view name = kv.substr(0, eq);
    if (passed_to_children(name)) all.emplace(std::string(name), std::string(kv.substr(eq + 1)));
  }
  for (const auto& [k, v] : extra) all[k] = v;
  std::vector<std::string> out;
  out.reserve(all.size());
  for (const auto& [k, v] : all) out.push_back(k + "=" + v);
  return out;
}

std::vector<char*> c_strings(std::vector<std::string>& v) {
  std::vector<char*> out;
  out.reserve(v.size() + 1);
  for (auto& s : v) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// Blocks SIGPIPE in this thread while we write to the child's stdin, so a child that exits without
// reading makes write() fail with EPIPE instead of killing us; restores the mask afterwards and
// swallows a SIGPIPE left pending.
class SigpipeGuard {
 public:
  SigpipeGuard() {
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old_);
  }
  ~SigpipeGuard() {
    sigset_t pending;
    sigpending(&pending);
    if (sigismember(&pending, SIGPIPE) && !sigismember(&old_, SIGPIPE)) {
      sigset_t pipe_set;
      sigemptyset(&pipe_set);
      sigaddset(&pipe_set, SIGPIPE);
      timespec zero{0, 0};
      sigtimedwait(&pipe_set, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeGuard(const SigpipeGuard&) = delete;
  SigpipeGuard& operator=(const SigpipeGuard&) = delete;

 private:
  sigset_t old_;
};

#if !SEALIFT_SPAWN_NP
// What the posix_spawn below does, for a C library without posix_spawn_file_actions_addchdir_np
// (glibc 2.29) and addclosefrom_np (2.34): the portable release binaries are built for glibc 2.28
// (RHEL 8). The child runs only async-signal-safe calls (other threads may hold locks at the
// fork); an exec failure comes back as its errno through a close-on-exec pipe, as posix_spawn
// reports it. Returns 0 or an errno value.
int fork_exec(const char* program, char* const* args, char* const* envs, int in, int out, int err, int cwd_fd,
              const char* cwd, pid_t& pid) {
  int report[2];
  if (pipe2(report, O_CLOEXEC) != 0) return errno;
  const long open_max = sysconf(_SC_OPEN_MAX);  // not async-signal-safe: asked before the fork
  pid = fork();
  if (pid < 0) {
    int e = errno;
    close(report[0]);
    close(report[1]);
    return e;
  }
  if (pid == 0) {
    int e = 0;
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0) e = errno;
    if (e == 0 && cwd_fd >= 0 && fchdir(cwd_fd) != 0) e = errno;
    if (e == 0 && cwd_fd < 0 && cwd != nullptr && chdir(cwd) != 0) e = errno;
    if (e == 0) {
      // Nothing else of ours reaches the child (as addclosefrom_np(3)), but the report pipe, which
      // exec closes. close_range is Linux 5.9; older kernels close one by one.
      const int keep = report[1];
      if ((keep > 3 && syscall(SYS_close_range, 3U, static_cast<unsigned>(keep - 1), 0U) != 0) ||
          syscall(SYS_close_range, static_cast<unsigned>(keep + 1), ~0U, 0U) != 0) {
        for (long fd = 3; fd < open_max; ++fd)
          if (fd != keep) close(static_cast<int>(fd));
      }
      struct sigaction dfl {};
      dfl.sa_handler = SIG_DFL;
      sigaction(SIGPIPE, &dfl, nullptr);
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      execve(program, args, envs);
      e = errno;
    }
    ssize_t ignored = write(report[1], &e, sizeof e);
    (void)ignored;
    _exit(127);
  }
  close(report[1]);
  int child_errno = 0;
  ssize_t n;
  do n = read(report[0], &child_errno, sizeof child_errno);
  while (n < 0 && errno == EINTR);
  close(report[0]);
  if (n == static_cast<ssize_t>(sizeof child_errno)) {
    int status;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    return child_errno;
  }
  return 0;
}
#endif

pid_t spawn(const std::vector<std::string>& argv, const ProcessOptions& options, Pipe& in, Pipe& out, Pipe& err) {
  // Our own PATH search rather than posix_spawnp's, which takes an empty entry for the current
  // directory.
  std::filesystem::path program = argv[0];
  if (argv[0].find('/') == std::string::npos) {
    program = find_in_path(argv[0]);
    if (program.empty())
      throw Error(ErrorKind::Tool, fmt::format("cannot start {}: not found in PATH", argv[0]),
                  "is it installed and in PATH? (empty and relative PATH entries are skipped)");
  }
  std::vector<std::string> args = argv;
  std::vector<std::string> envs = child_environment(options.env);
  auto c_args = c_strings(args);
  auto c_envs = c_strings(envs);
#if !SEALIFT_SPAWN_NP
  pid_t forked = -1;
  int frc = fork_exec(program.c_str(), c_args.data(), c_envs.data(), in.read.get(), out.write.get(),
                      err.write.get(), options.cwd_fd, options.cwd.empty() ? nullptr : options.cwd.c_str(), forked);
  if (frc != 0) throw Error(ErrorKind::Tool, fmt::format("cannot start {}: {}", argv[0], std::strerror(frc)));
  return forked;
#else
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in.read.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, out.write.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err.write.get(), 2);
  // Before the descriptors go (the actions run in order).
  if (options.cwd_fd >= 0) posix_spawn_file_actions_addfchdir_np(&actions, options.cwd_fd);
  else if (!options.cwd.empty()) posix_spawn_file_actions_addchdir_np(&actions, options.cwd.c_str());
  // Nothing else of ours reaches the child: not a temporary file, not a pooled registry connection
  // (libcurl's sockets are not close-on-exec), whatever thread opened it.
  posix_spawn_file_actions_addclosefrom_np(&actions, 3);

  // The child starts with no blocked signals and SIGPIPE at its default, whatever ours are.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  pid_t pid = -1;
  int rc = posix_spawn(&pid, program.c_str(), &actions, &attr, c_args.data(), c_envs.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) throw Error(ErrorKind::Tool, fmt::format("cannot start {}: {}", argv[0], std::strerror(rc)));
  return pid;
#endif
}

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options) {
  if (argv.empty() || argv[0].empty()) throw Error(ErrorKind::Internal, "run_process: empty command");
  Pipe in = make_pipe(), out = make_pipe(), err = make_pipe();
  pid_t pid = spawn(argv, options, in, out, err);
  in.read.reset();
  out.write.reset();
  err.write.reset();

  SigpipeGuard sigpipe;
  ProcessResult result;
  size_t written = 0;
  if (options.stdin_data.empty()) {
    in.write.reset();
  } else {
    fcntl(in.write.get(), F_SETFL, O_NONBLOCK);
  }
  const bool has_deadline = options.timeout_seconds > 0;
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                           std::chrono::duration<double>(options.timeout_seconds));
  char buf[65536];
  while (out.read.open() || err.read.open()) {
    pollfd fds[3];
    nfds_t n = 0;
    int out_i = -1, err_i = -1, in_i = -1;
    if (out.read.open()) { fds[n] = {out.read.get(), POLLIN, 0}; out_i = static_cast<int>(n++); }
    if (err.read.open()) { fds[n] = {err.read.get(), POLLIN, 0}; err_i = static_cast<int>(n++); }
    if (in.write.open()) { fds[n] = {in.write.get(), POLLOUT, 0}; in_i = static_cast<int>(n++); }
    int wait_ms = -1;
    if (has_deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        ::kill(pid, SIGKILL);
        result.timed_out = true;
        break;
      }
      wait_ms = static_cast<int>(std::min<long long>(left, 1000));
    }
    if (poll(fds, n, wait_ms) < 0) {
      if (errno == EINTR) continue;
      ::kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      throw Error(ErrorKind::Internal, fmt::format("poll failed while running {}: {}", argv[0], std::strerror(errno)));
    }
    auto drain = [&](int index, Fd& fd, std::string& into) {
      if (index < 0 || fds[index].revents == 0) return;
      ssize_t r = ::read(fd.get(), buf, sizeof buf);
      if (r > 0) into.append(buf, static_cast<size_t>(r));
      else if (r == 0 || errno != EINTR) fd.reset();
    };
    drain(out_i, out.read, result.out);
    drain(err_i, err.read, result.err);
    if (in_i >= 0 && fds[in_i].revents) {
      ssize_t w = ::write(in.write.get(), options.stdin_data.data() + written, options.stdin_data.size() - written);
      if (w > 0) written += static_cast<size_t>(w);
      // EPIPE: the child stopped reading; what it did not take is its business.
      if ((w < 0 && errno != EINTR && errno != EAGAIN) || written == options.stdin_data.size()) in.write.reset();
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

std::filesystem::path find_in_path(std::string_view name) {
  const char* path = std::getenv("PATH");
  if (!path || name.empty()) return {};
  std::string_view dirs(path);
  while (true) {
    auto colon = dirs.find(':');
    std::string_view dir = dirs.substr(0, colon);
    // An empty entry means the current directory to a shell, and a relative one depends on it: a
    // helm planted where sealift happens to be started (an unpacked bundle, a shared directory)
    // would run with the user's cluster credentials.
    if (!dir.empty() && dir.front() == '/') {
      std::filesystem::path candidate = std::filesystem::path(dir) / std::string(name);
      struct stat st{};
      if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0)
        return candidate;
    }
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return {};
}

}  // namespace sealift::util
