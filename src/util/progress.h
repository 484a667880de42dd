// Progress of long phases (pull, write, verify, push): on a terminal one line redrawn with bytes,
// rate and ETA; otherwise one plain line per phase; --quiet prints nothing, --json one JSON object
// per line. Thread-safe: transfer workers call advance().
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>

namespace sealift::util {

class Progress {
 public:
  enum class Mode { Auto, Plain, Quiet, Json };
  explicit Progress(Mode mode = Mode::Auto, std::FILE* out = stderr);
  ~Progress();

  // Starts a phase of `total` bytes (0 when unknown); ends the previous one.
  void begin(std::string phase, uint64_t total);
  void advance(uint64_t bytes);
  // Ends the current phase with a summary line.
  void end();
  // A line of information ("skipped 12 blobs already in the cache").
  void note(const std::string& message);

  uint64_t done() const { return done_.load(); }
  Mode mode() const { return mode_; }

 private:
  void draw(bool final);

  Mode mode_;
  std::FILE* out_;
  std::mutex mu_;
  std::string phase_;
  uint64_t total_ = 0;
  std::atomic<uint64_t> done_{0};
  std::chrono::steady_clock::time_point start_, last_draw_;
  bool active_ = false;
};

// "1.2 GB", "340 kB" (decimal units, as disks and networks count).
std::string human_bytes(uint64_t bytes);

}  // namespace sealift::util
