// Shared by the fuzz targets (fuzz/<target>_fuzz.cc, run by scripts/fuzz.sh). A parser answers
// bad input with sealift::Error naming the problem; any other exception escaping, a crash, a
// sanitizer report, a leak, a hang or unbounded memory is a finding. Checks that must hold for
// every accepted input (round trips) call require(), which aborts so libFuzzer saves the input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#include <unistd.h>

#include "util/error.h"

namespace sealift::fuzz {

inline std::string_view text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Runs `parse`, accepting sealift::Error (with a message) as the answer to bad input.
template <class F>
void expect_clean_errors(F&& parse) {
  try {
    parse();
  } catch (const Error& e) {
    if (std::string_view(e.what()).empty()) {
      std::fprintf(stderr, "sealift::Error without a message\n");
      std::abort();
    }
  }
}

inline void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz check failed: %s\n", what);
    std::abort();
  }
}

// The first line (without its '\n') and the rest; the whole input and "" when there is no '\n'.
inline std::pair<std::string_view, std::string_view> split_line(std::string_view s) {
  size_t nl = s.find('\n');
  if (nl == std::string_view::npos) return {s, {}};
  return {s.substr(0, nl), s.substr(nl + 1)};
}

// A directory of this process's own for parsers that read files, removed at exit.
inline const std::filesystem::path& scratch_dir() {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("sealift-fuzz-" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(scratch_dir(), ec);
    });
    return d;
  }();
  return dir;
}

// Writes `bytes` to `name` in scratch_dir() and returns its path.
inline std::filesystem::path write_scratch(const std::string& name, std::string_view bytes) {
  auto path = scratch_dir() / name;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  require(f != nullptr, "cannot create a scratch file");
  require(std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size(), "cannot write a scratch file");
  std::fclose(f);
  return path;
}

}  // namespace sealift::fuzz
