#include "util/progress.h"

#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace sealift::util {

using Clock = std::chrono::steady_clock;

std::string human_bytes(uint64_t bytes) {
  static const char* units[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.1f} {}", v, units[u]);
}

Progress::Progress(Mode mode, std::FILE* out) : mode_(mode), out_(out) {
  if (mode_ == Mode::Auto) mode_ = isatty(fileno(out_)) ? Mode::Auto : Mode::Plain;
}

Progress::~Progress() {
  if (active_) end();
}

void Progress::begin(std::string phase, uint64_t total) {
  if (active_) end();
  std::lock_guard lock(mu_);
  phase_ = std::move(phase);
  total_ = total;
  done_ = 0;
  start_ = last_draw_ = Clock::now();
  active_ = true;
}

void Progress::advance(uint64_t bytes) {
  done_ += bytes;
  if (mode_ != Mode::Auto) return;
  std::unique_lock lock(mu_, std::try_to_lock);
  if (!lock.owns_lock()) return;
  if (Clock::now() - last_draw_ < std::chrono::milliseconds(200)) return;
  last_draw_ = Clock::now();
  draw(false);
}

void Progress::end() {
  std::lock_guard lock(mu_);
  if (!active_) return;
  active_ = false;
  draw(true);
}

void Progress::note(const std::string& message) {
  std::lock_guard lock(mu_);
  switch (mode_) {
    case Mode::Quiet: return;
    case Mode::Json: fmt::print(out_, "{}\n", nlohmann::json{{"note", message}}.dump()); break;
    case Mode::Auto: fmt::print(out_, "\r\033[K{}\n", message); break;
    case Mode::Plain: fmt::print(out_, "{}\n", message); break;
  }
  std::fflush(out_);
}

void Progress::draw(bool final) {
  double secs = std::chrono::duration<double>(Clock::now() - start_).count();
  uint64_t done = done_.load();
  double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
  switch (mode_) {
    case Mode::Quiet: return;
    case Mode::Json:
      if (final)
        fmt::print(out_, "{}\n",
                   nlohmann::json{{"phase", phase_}, {"bytes", done}, {"total", total_}, {"seconds", secs}}.dump());
      break;
    case Mode::Plain:
      if (final && done == 0 && total_ == 0) fmt::print(out_, "{}: done in {:.1f}s\n", phase_, secs);
      else if (final) fmt::print(out_, "{}: {} in {:.1f}s ({}/s)\n", phase_, human_bytes(done), secs, human_bytes(rate));
      break;
    case Mode::Auto: {
      if (done == 0 && total_ == 0) {
        fmt::print(out_, "\r\033[K{}: {:.1f}s{}", phase_, secs, final ? "\n" : "");
        break;
      }
      std::string eta;
      if (!final && total_ > done && rate > 0)
        eta = fmt::format(", ETA {:.0f}s", static_cast<double>(total_ - done) / rate);
      std::string of = total_ ? " / " + human_bytes(total_) : "";
      fmt::print(out_, "\r\033[K{}: {}{} ({}/s{}){}", phase_, human_bytes(done), of, human_bytes(rate), eta,
                 final ? fmt::format(" in {:.1f}s\n", secs) : "");
      break;
    }
  }
  std::fflush(out_);
}

}  // namespace sealift::util
