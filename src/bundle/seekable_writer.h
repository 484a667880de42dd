// Writes a byte stream as a zstd seekable file: the stream is cut into frames that a few threads
// compress independently, written in order, and ended by a seek table. The output depends only on
// the bytes, the cuts, the store marks, the level and the zstd version, never on the number of
// threads. Memory stays at a few frames in flight, whatever the stream's length.
//
// Data that is compressed already (gzip and zstd layers) gains nothing from zstd and costs most of
// its time, so such frames are stored: standard zstd frames made of raw blocks, with content size
// and checksum like every other frame. A frame is stored when the writer was told so (store()),
// or when zstd cannot shrink its first block by 1/64 at the frame's level.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "bundle/seekable_format.h"
#include "io/stream.h"

namespace sealift::bundle {

struct CompressionOptions {
  static constexpr size_t kMinFrameSize = 64 * 1024;

  // Decompressed bytes per frame, at most kMaxFrameDecompressedSize. Larger frames compress a
  // little better (nothing on layers, already compressed); smaller ones make random reads cheaper
  // and bound a reader's memory: each open entry holds one decompressed frame, and a push reads 8
  // entries at once.
  size_t frame_size = 1 << 20;
  int level = 3;
  // Compression threads; 0: one per core, at most kMaxDefaultThreads. Memory grows with them
  // (two frames in flight each).
  unsigned threads = 0;
  static constexpr unsigned kMaxDefaultThreads = 8;
};

class SeekableWriter : public io::Sink {
 public:
  SeekableWriter(io::Sink& out, CompressionOptions options);
  ~SeekableWriter() override;
  SeekableWriter(const SeekableWriter&) = delete;
  SeekableWriter& operator=(const SeekableWriter&) = delete;

  // Appends to the current frame, cutting a new one every frame_size bytes.
  void write(std::span<const std::byte> buf) override;
  // Ends the current frame here (nothing happens if it is empty).
  void cut();
  // Whether frames started from now on are stored without compression (raw blocks), or
  // compressed; an empty current frame takes the mark at once.
  void store(bool raw);
  // Decompressed bytes in the current frame, and in the whole stream so far.
  size_t frame_fill() const;
  uint64_t position() const { return position_; }

  // Appends a complete skippable frame after the data (listed in the seek table with size 0).
  void add_skippable(std::string frame);
  // Writes every pending frame and the seek table. Nothing may be written after it.
  void finish();

 private:
  struct Job {
    std::vector<std::byte> input;
    size_t input_size = 0;
    std::vector<std::byte> output;
    size_t output_size = 0;
    bool skippable = false;
    bool store = false;  // asked for
    bool raw = false;    // decided: written as raw blocks straight from `input`
    uint32_t checksum = 0;
    bool done = false;
    std::string error;
  };

  void submit();
  void write_oldest();
  void write_raw(const Job& job);
  void work();
  std::unique_ptr<Job> new_job();

  io::Sink& out_;
  CompressionOptions options_;
  size_t max_in_flight_;
  uint64_t position_ = 0;
  bool store_ = false;
  std::unique_ptr<Job> current_;
  std::vector<SeekEntry> table_;
  bool finished_ = false;

  std::mutex mutex_;
  std::condition_variable work_ready_, job_done_;
  std::deque<std::unique_ptr<Job>> in_flight_;  // in stream order
  std::deque<Job*> waiting_;                    // not yet picked by a worker
  std::vector<std::unique_ptr<Job>> spare_;      // buffers to reuse
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

// XXH64 with seed 0 (the checksum zstd frames carry, low 32 bits), for frames written raw.
uint64_t xxh64(std::span<const std::byte> data);

}  // namespace sealift::bundle
