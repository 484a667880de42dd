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
  // Added to (or replacing entries of) the part of this process's environment a child inherits:
  // an allow-list (PATH, HOME, TMPDIR, locale, TZ, KUBECONFIG, HELM_*, XDG_*, proxies, SSL_CERT_*;
  // process.cc says why each), never sealift's secrets or anything else.
  std::map<std::string, std::string> env;
  // Working directory of the child; empty = ours.
  std::filesystem::path cwd;
  // Working directory of the child as an open directory (then `cwd` is ignored): a directory
  // renamed, or another put under its name, since it was opened does not change what the child gets.
  int cwd_fd = -1;
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

// Runs argv[0] (searched in PATH's absolute directories when it has no '/') with argv and waits
// for it. The child gets descriptors 0-2 and nothing else of ours. Throws Error(Tool) when it
// cannot be started; a non-zero exit is reported in the result, not thrown.
ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// The executable file `name` in the absolute directories of $PATH (empty and relative entries,
// which depend on the current directory, are skipped); empty when there is none.
std::filesystem::path find_in_path(std::string_view name);

}  // namespace sealift::util
