// run_process: argv straight to posix_spawn, output captured, stdin fed, exit codes and signals,
// timeouts, environment and working directory; what the child must not get (our descriptors, a
// program from the current directory, our secrets).
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <sstream>

#include <gtest/gtest.h>

#include "env/process.h"
#include "util/error.h"
#include "util/fs.h"
#include "util/process.h"

namespace sealift::util {
namespace {

namespace fs = std::filesystem;

using testenv::ScopedEnv;

// Runs the test's body in another working directory.
class ScopedCwd {
 public:
  explicit ScopedCwd(const fs::path& dir) : old_(fs::current_path()) { fs::current_path(dir); }
  ~ScopedCwd() { fs::current_path(old_); }
  ScopedCwd(const ScopedCwd&) = delete;
  ScopedCwd& operator=(const ScopedCwd&) = delete;

 private:
  fs::path old_;
};

TEST(Process, CapturesStdoutStderrAndExitCode) {
  auto r = run_process({"sh", "-c", "printf out; printf err >&2; exit 3"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "out");
  EXPECT_EQ(r.err, "err");
  EXPECT_FALSE(r.timed_out);
}

TEST(Process, ArgumentsAreNotInterpretedByAShell) {
  auto r = run_process({"printf", "%s|", "$HOME", "a b", "`id`", ";", "*"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, "$HOME|a b|`id`|;|*|");
}

TEST(Process, FeedsStdinLargerThanAPipe) {
  std::string big(3 << 20, 'x');
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + (i / 4096) % 26);
  ProcessOptions o;
  o.stdin_data = big;
  auto r = run_process({"cat"}, o);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out, big);
}

TEST(Process, AChildThatIgnoresStdinDoesNotKillUs) {
  ProcessOptions o;
  o.stdin_data = std::string(8 << 20, 'y');
  auto r = run_process({"true"}, o);
  EXPECT_EQ(r.exit_code, 0);
}

TEST(Process, ReportsSignalsAndTimeouts) {
  auto killed = run_process({"sh", "-c", "kill -TERM $$"});
  EXPECT_EQ(killed.exit_code, 128 + 15);
  ProcessOptions o;
  o.timeout_seconds = 0.2;
  auto slow = run_process({"sleep", "30"}, o);
  EXPECT_TRUE(slow.timed_out);
  EXPECT_EQ(slow.exit_code, 128 + 9);
}

TEST(Process, EnvironmentAndWorkingDirectory) {
  testenv::TempDir tmp;
  ProcessOptions o;
  o.env = {{"SEALIFT_PROCESS_TEST", "value with spaces"}};
  o.cwd = tmp.path();
  auto r = run_process({"sh", "-c", "printf '%s|' \"$SEALIFT_PROCESS_TEST\"; pwd"}, o);
  EXPECT_EQ(r.out, "value with spaces|" + std::filesystem::canonical(tmp.path()).string() + "\n");
  EXPECT_TRUE(r.err.empty());
}

TEST(Process, MissingProgramIsAToolError) {
  try {
    run_process({"sealift-no-such-program"});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Tool);
    EXPECT_NE(std::string(e.what()).find("sealift-no-such-program"), std::string::npos);
    EXPECT_NE(e.hint().find("PATH"), std::string::npos);
  }
  EXPECT_THROW(run_process({}), Error);
}

TEST(Process, FindsProgramsInPath) {
  EXPECT_FALSE(find_in_path("sh").empty());
  EXPECT_TRUE(find_in_path("sealift-no-such-program").empty());
}

// While sealift holds a temporary file being written, a raw descriptor opened without O_CLOEXEC and
// a socket (as libcurl keeps pooled registry connections), helm sees none of them: only 0, 1, 2.
TEST(Process, TheChildGetsNoDescriptorAboveStderr) {
  testenv::TempDir tmp;
  AtomicFile temp(tmp / "values.yaml", 0600);
  int raw = ::open(tmp.path().c_str(), O_RDONLY | O_DIRECTORY);
  int sock = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(raw, 0);
  ASSERT_GE(sock, 0);
  auto r = run_process({"ls", "-l", "/proc/self/fd"});
  ::close(raw);
  ::close(sock);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // "lr-x------ 1 root root 64 Jan 1 00:00 3 -> /proc/4242/fd": ls's own handle on the directory
  // it lists is the one descriptor above 2 allowed.
  std::istringstream lines(r.out);
  std::string line;
  int listed = 0;
  while (std::getline(lines, line)) {
    auto arrow = line.find(" -> ");
    if (arrow == std::string::npos) continue;
    ++listed;
    std::string number = line.substr(line.rfind(' ', arrow - 1) + 1, arrow - line.rfind(' ', arrow - 1) - 1);
    std::string target = line.substr(arrow + 4);
    if (std::stoi(number) <= 2) continue;
    EXPECT_TRUE(target.starts_with("/proc/") && target.ends_with("/fd")) << "the child holds " << line;
  }
  EXPECT_GE(listed, 3) << r.out;
  EXPECT_EQ(r.out.find(temp.temp_path().filename().string()), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("socket:"), std::string::npos) << r.out;
}

// A shell takes an empty PATH entry (and "." or any relative one) for the current directory; a
// `helm` planted there (an unpacked bundle, a shared directory) must not be what sealift runs.
TEST(Process, EmptyAndRelativePathEntriesAreNotSearched) {
  testenv::TempDir tmp;
  fs::create_directories(tmp / "sub");
  for (const fs::path& dir : {tmp.path(), tmp / "sub"}) {
    util::write_file_atomic(dir / "helm", "#!/bin/sh\necho planted\n", 0755);
  }
  ScopedCwd cwd(tmp.path());
  for (const char* path : {":/nonexistent", "/nonexistent:", "/nonexistent::/nonexistent", ".", "sub", "./sub"}) {
    ScopedEnv env("PATH", std::string(path));
    EXPECT_TRUE(find_in_path("helm").empty()) << "PATH=" << path << " found " << find_in_path("helm");
    try {
      auto r = run_process({"helm"});
      ADD_FAILURE() << "PATH=" << path << " ran " << r.out;
    } catch (const Error& e) {
      EXPECT_EQ(e.kind(), ErrorKind::Tool) << e.what();
    }
  }
  // An absolute entry still finds it.
  ScopedEnv env("PATH", "/nonexistent::" + (tmp / "sub").string());
  EXPECT_EQ(find_in_path("helm"), tmp / "sub" / "helm");
  EXPECT_EQ(run_process({"helm"}).out, "planted\n");
}

// The child's environment is an allow-list: sealift's secrets and any other variable that is not
// on it stay behind; what helm needs (KUBECONFIG, HELM_*, proxies, locale) goes.
TEST(Process, TheChildGetsAnAllowListOfTheEnvironment) {
  ScopedEnv secrets[] = {
      {"SEALIFT_REGISTRY_PASSWORD", "registry-secret"}, {"SEALIFT_PULL_PASSWORD", "pull-secret"},
      {"COSIGN_PASSWORD", "cosign-secret"},             {"FOO_TOKEN", "foo-secret"},
      {"AWS_SECRET_ACCESS_KEY", "aws-secret"},          {"SEALIFT_REGISTRY_USER", "robot$x"},
  };
  ScopedEnv passed[] = {
      {"KUBECONFIG", "/etc/sealift-test/kubeconfig"}, {"HELM_KUBECONTEXT", "prod"},
      {"https_proxy", "http://proxy:3128"},           {"NO_PROXY", "10.0.0.0/8"},
      {"LC_ALL", "C.UTF-8"},                          {"XDG_CONFIG_HOME", "/tmp/xdg"},
      {"SSL_CERT_FILE", "/etc/ssl/private-ca.pem"},
  };
  ProcessOptions o;
  o.env = {{"SEALIFT_PROCESS_TEST", "explicit"}};
  auto r = run_process({"env"}, o);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string lines = "\n" + r.out;
  for (const char* secret : {"registry-secret", "pull-secret", "cosign-secret", "foo-secret", "aws-secret", "robot$x"})
    EXPECT_EQ(r.out.find(secret), std::string::npos) << secret << " reached the child:\n" << r.out;
  for (const char* kv : {"KUBECONFIG=/etc/sealift-test/kubeconfig", "HELM_KUBECONTEXT=prod", "https_proxy=http://proxy:3128",
                         "NO_PROXY=10.0.0.0/8", "LC_ALL=C.UTF-8", "XDG_CONFIG_HOME=/tmp/xdg",
                         "SSL_CERT_FILE=/etc/ssl/private-ca.pem", "SEALIFT_PROCESS_TEST=explicit"})
    EXPECT_NE(lines.find(std::string("\n") + kv + "\n"), std::string::npos) << kv << " is missing:\n" << r.out;
  EXPECT_NE(r.out.find("PATH="), std::string::npos) << r.out;
}

}  // namespace
}  // namespace sealift::util
