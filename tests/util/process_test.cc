// run_process: argv straight to posix_spawn, output captured, stdin fed, exit codes and signals,
// timeouts, environment and working directory.
#include <gtest/gtest.h>

#include "env/process.h"
#include "util/error.h"
#include "util/process.h"

namespace sealift::util {
namespace {

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

}  // namespace
}  // namespace sealift::util
