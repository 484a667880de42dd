// Throughput of the bundle archive, for scripts/bench-bundle.sh (which also runs the zstd and tar
// baselines and records peak memory with /usr/bin/time).
//
//   bundle_archive_bench write <payload> <bundle> [threads] [level]
//       cuts the payload file into 256 MiB "layers" behind a few small documents and writes them
//   bundle_archive_bench read <bundle> [threads]
//       reads every entry back through the random-access reader, entries spread over the threads
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "bundle/archive_reader.h"
#include "bundle/archive_writer.h"
#include "util/error.h"
#include "util/fs.h"

namespace {

using namespace sealift;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kLayerSize = 256ull << 20;

// The next `size` bytes of a source shared by consecutive entries.
class Slice : public io::Source {
 public:
  Slice(io::Source& inner, uint64_t size) : inner_(inner), left_(size) {}
  size_t read(std::span<std::byte> buf) override {
    if (left_ == 0) return 0;
    size_t n = inner_.read(buf.first(static_cast<size_t>(std::min<uint64_t>(buf.size(), left_))));
    left_ -= n;
    return n;
  }

 private:
  io::Source& inner_;
  uint64_t left_;
};

void report(const char* what, uint64_t bytes, Clock::duration took) {
  double seconds = std::chrono::duration<double>(took).count();
  fmt::print("{}: {} MiB in {:.2f} s = {:.0f} MiB/s\n", what, bytes >> 20, seconds, (bytes >> 20) / seconds);
}

int write(const std::string& payload, const std::string& bundle, unsigned threads, int level) {
  uint64_t size = std::filesystem::file_size(payload);
  auto start = Clock::now();
  bundle::WriterOptions o;
  o.compression.threads = threads;
  o.compression.level = level;
  bundle::ArchiveWriter w(bundle, o);
  w.add_bytes("oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  w.add_bytes("index.json", R"({"schemaVersion":2,"manifests":[]})");
  util::FileSource src(payload);
  for (uint64_t done = 0, n = 0; done < size; done += kLayerSize, ++n) {
    uint64_t part = std::min(kLayerSize, size - done);
    Slice slice(src, part);
    w.add(fmt::format("blobs/sha256/layer{:04}", n), part, slice);
  }
  w.finish();
  report(fmt::format("write ({} threads, level {})", threads, level).c_str(), size, Clock::now() - start);
  return 0;
}

int read(const std::string& bundle, unsigned threads) {
  auto start = Clock::now();
  bundle::ArchiveReader r(bundle);
  std::atomic<uint64_t> total{0};
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  for (unsigned t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      std::vector<std::byte> buf(1 << 20);
      for (size_t i; (i = next++) < r.entries().size();) {
        auto src = r.open(r.entries()[i].name);
        for (size_t n; (n = src->read(buf)) > 0;) total += n;
      }
    });
  }
  for (auto& t : workers) t.join();
  report(fmt::format("read ({} threads)", threads).c_str(), total, Clock::now() - start);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  try {
    if (args.size() >= 3 && args[0] == "write") {
      return write(args[1], args[2], args.size() > 3 ? std::stoi(args[3]) : 2, args.size() > 4 ? std::stoi(args[4]) : 3);
    }
    if (args.size() >= 2 && args[0] == "read") return read(args[1], args.size() > 2 ? std::stoi(args[2]) : 1);
  } catch (const sealift::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return e.exit_code();
  }
  std::fprintf(stderr, "usage: %s write <payload> <bundle> [threads] [level] | read <bundle> [threads]\n", argv[0]);
  return 2;
}
