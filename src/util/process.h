// Running another program (helm) the safe way: an argv vector handed to posix_spawn, never a shell
// command line, with its output captured through pipes.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace sealift::util {

struct ProcessOptions {
  // Added to (or replacing entries of) this process's environment, which the child inherits but
  // for sealift's secret variables (COSIGN_PASSWORD, SEALIFT_REGISTRY_PASSWORD, SEALIFT_PULL_PASSWORD).
  std::map<std::string, std::string> env;
  // Working directory of the child; empty = ours.
  std::filesystem::path cwd;
  // Fed to the child's stdin, which is then closed; empty = stdin closed at once.
  std::string stdin_data;
  // Kill the child (SIGKILL) after this many seconds; 0 = wait as long as it runs.
  double timeout_seconds = 0;
};

struct ProcessResult {
  int exit_code = -1;  // the exit status, or 128 + signal number when a signal ended it
  bool timed_out = false;
  std::string out;     // stdout
  std::string err;     // stderr
};

// Runs argv[0] (searched in PATH when it has no '/') with argv and waits for it. Throws
// Error(Tool) when it cannot be started; a non-zero exit is reported in the result, not thrown.
ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// The executable file `name` in the directories of $PATH; empty when there is none.
std::filesystem::path find_in_path(std::string_view name);

}  // namespace sealift::util
