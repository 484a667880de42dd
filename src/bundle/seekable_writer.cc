#include "bundle/seekable_writer.h"

#include <zstd.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "util/error.h"

namespace sealift::bundle {

namespace {

constexpr uint64_t kP1 = 11400714785074694791ULL;
constexpr uint64_t kP2 = 14029467366897019727ULL;
constexpr uint64_t kP3 = 1609587929392839161ULL;
constexpr uint64_t kP4 = 9650029242287828579ULL;
constexpr uint64_t kP5 = 2870177450012600261ULL;

uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }
uint64_t le64(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint64_t>(p[i]);
  return v;
}
uint64_t round64(uint64_t acc, uint64_t input) { return rotl(acc + input * kP2, 31) * kP1; }
uint64_t merge64(uint64_t acc, uint64_t v) { return (acc ^ round64(0, v)) * kP1 + kP4; }

void put_le(std::byte* p, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) p[i] = static_cast<std::byte>(v >> (8 * i));
}

// zstd's largest block (RFC 8878 §3.1.1.2.4: Block_Maximum_Size).
constexpr size_t kMaxBlock = 128 * 1024;

// A zstd frame of raw blocks: single segment, Frame_Content_Size and Content_Checksum present.
// Its header; each block then has a 3-byte header of its own; the checksum ends it.
std::vector<std::byte> raw_frame_header(uint64_t size) {
  std::vector<std::byte> h(4 + 1 + 8);
  put_le(h.data(), kZstdFrameMagic, 4);
  // Frame_Header_Descriptor: Frame_Content_Size_flag (bits 7-6), Single_Segment_flag (bit 5),
  // Content_Checksum_flag (bit 2). The content size field is as small as the size allows.
  unsigned fcs_flag = size < 256 ? 0 : size < 65536 + 256 ? 1 : size <= 0xFFFFFFFFu ? 2 : 3;
  h[4] = static_cast<std::byte>((fcs_flag << 6) | (1u << 5) | (1u << 2));
  static constexpr size_t kFcsBytes[] = {1, 2, 4, 8};
  put_le(h.data() + 5, fcs_flag == 1 ? size - 256 : size, kFcsBytes[fcs_flag]);
  h.resize(5 + kFcsBytes[fcs_flag]);
  return h;
}

size_t raw_blocks(size_t size) { return size == 0 ? 1 : (size + kMaxBlock - 1) / kMaxBlock; }

size_t raw_frame_size(size_t size) { return raw_frame_header(size).size() + raw_blocks(size) * 3 + size + 4; }

}  // namespace

uint64_t xxh64(std::span<const std::byte> data) {
  const std::byte* p = data.data();
  const std::byte* end = p + data.size();
  uint64_t h;
  if (data.size() >= 32) {
    uint64_t v1 = kP1 + kP2, v2 = kP2, v3 = 0, v4 = 0 - kP1;
    for (; end - p >= 32; p += 32) {
      v1 = round64(v1, le64(p));
      v2 = round64(v2, le64(p + 8));
      v3 = round64(v3, le64(p + 16));
      v4 = round64(v4, le64(p + 24));
    }
    h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
    h = merge64(h, v1);
    h = merge64(h, v2);
    h = merge64(h, v3);
    h = merge64(h, v4);
  } else {
    h = kP5;
  }
  h += data.size();
  for (; end - p >= 8; p += 8) h = rotl(h ^ round64(0, le64(p)), 27) * kP1 + kP4;
  if (end - p >= 4) {
    uint64_t v = 0;
    for (int i = 3; i >= 0; --i) v = (v << 8) | static_cast<uint64_t>(p[i]);
    h = rotl(h ^ (v * kP1), 23) * kP2 + kP3;
    p += 4;
  }
  for (; p < end; ++p) h = rotl(h ^ (static_cast<uint64_t>(*p) * kP5), 11) * kP1;
  h ^= h >> 33;
  h *= kP2;
  h ^= h >> 29;
  h *= kP3;
  h ^= h >> 32;
  return h;
}

SeekableWriter::SeekableWriter(io::Sink& out, CompressionOptions options) : out_(out), options_(options) {
  if (options_.frame_size < CompressionOptions::kMinFrameSize || options_.frame_size > kMaxFrameDecompressedSize) {
    throw Error(ErrorKind::Usage, fmt::format("frame size {} is outside {}..{} bytes", options_.frame_size,
                                              CompressionOptions::kMinFrameSize, kMaxFrameDecompressedSize));
  }
  if (options_.level < ZSTD_minCLevel() || options_.level > ZSTD_maxCLevel()) {
    throw Error(ErrorKind::Usage, fmt::format("zstd level {} is outside {}..{}", options_.level,
                                              ZSTD_minCLevel(), ZSTD_maxCLevel()));
  }
  if (options_.threads > 256) {
    throw Error(ErrorKind::Usage, fmt::format("{} compression threads is more than the 256 allowed", options_.threads));
  }
  unsigned threads = options_.threads ? options_.threads
                                      : std::clamp(std::thread::hardware_concurrency(), 1u,
                                                   CompressionOptions::kMaxDefaultThreads);
  // Two frames per thread keep every thread busy while the oldest frame is being written out.
  max_in_flight_ = 2 * threads;
  current_ = new_job();
  for (unsigned i = 0; i < threads; ++i) workers_.emplace_back([this] { work(); });
}

SeekableWriter::~SeekableWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (std::thread& t : workers_) t.join();
}

std::unique_ptr<SeekableWriter::Job> SeekableWriter::new_job() {
  std::unique_ptr<Job> job;
  if (!spare_.empty()) {
    job = std::move(spare_.back());
    spare_.pop_back();
    job->input_size = 0;
    job->output_size = 0;
    job->done = false;
    job->raw = false;
  } else {
    job = std::make_unique<Job>();
  }
  job->store = store_;
  job->input.resize(options_.frame_size);
  return job;
}

void SeekableWriter::write(std::span<const std::byte> buf) {
  if (finished_) throw Error(ErrorKind::Internal, "write after the seek table was written");
  while (!buf.empty()) {
    size_t n = std::min(buf.size(), options_.frame_size - current_->input_size);
    std::memcpy(current_->input.data() + current_->input_size, buf.data(), n);
    current_->input_size += n;
    position_ += n;
    buf = buf.subspan(n);
    if (current_->input_size == options_.frame_size) submit();
  }
}

size_t SeekableWriter::frame_fill() const { return current_->input_size; }

void SeekableWriter::cut() {
  if (current_->input_size > 0) submit();
}

void SeekableWriter::store(bool raw) {
  store_ = raw;
  if (current_->input_size == 0) current_->store = raw;
}

void SeekableWriter::submit() {
  {
    std::lock_guard lock(mutex_);
    waiting_.push_back(current_.get());
    in_flight_.push_back(std::move(current_));
  }
  work_ready_.notify_one();
  while (in_flight_.size() > max_in_flight_) write_oldest();
  current_ = new_job();
}

void SeekableWriter::add_skippable(std::string frame) {
  cut();
  auto job = std::make_unique<Job>();
  job->skippable = true;
  job->output.resize(frame.size());
  std::memcpy(job->output.data(), frame.data(), frame.size());
  job->output_size = frame.size();
  job->done = true;
  in_flight_.push_back(std::move(job));
  while (in_flight_.size() > max_in_flight_) write_oldest();
}

void SeekableWriter::write_oldest() {
  Job* job = in_flight_.front().get();
  {
    std::unique_lock lock(mutex_);
    job_done_.wait(lock, [job] { return job->done; });
  }
  if (!job->error.empty()) throw Error(ErrorKind::Internal, "zstd compression failed: " + job->error);
  if (job->raw) {
    write_raw(*job);
  } else {
    out_.write(std::span<const std::byte>(job->output.data(), job->output_size));
  }
  SeekEntry entry;
  entry.compressed_size = static_cast<uint32_t>(job->output_size);
  if (job->skippable) {
    entry.checksum = kEmptyChecksum;
  } else if (job->raw) {
    entry.decompressed_size = static_cast<uint32_t>(job->input_size);
    entry.checksum = job->checksum;
  } else {
    entry.decompressed_size = static_cast<uint32_t>(job->input_size);
    // A zstd frame with the checksum flag ends with the low 32 bits of XXH64 of its content: the
    // very checksum the seek table wants.
    entry.checksum = read_le32(job->output.data() + job->output_size - 4);
  }
  table_.push_back(entry);
  std::unique_ptr<Job> done = std::move(in_flight_.front());
  in_flight_.pop_front();
  if (!done->skippable) spare_.push_back(std::move(done));
}

void SeekableWriter::write_raw(const Job& job) {
  // Straight from the frame's input: the bytes are copied once, into the output file.
  std::vector<std::byte> header = raw_frame_header(job.input_size);
  out_.write(header);
  size_t done = 0;
  do {
    size_t n = std::min(kMaxBlock, job.input_size - done);
    bool last = done + n == job.input_size;
    // Block_Header: Last_Block (bit 0), Block_Type 0 = Raw (bits 1-2), Block_Size (bits 3-23).
    std::byte block[3];
    put_le(block, (static_cast<uint64_t>(n) << 3) | (last ? 1u : 0u), 3);
    out_.write(block);
    out_.write(std::span<const std::byte>(job.input.data() + done, n));
    done += n;
  } while (done < job.input_size);
  std::byte checksum[4];
  put_le(checksum, job.checksum, 4);
  out_.write(checksum);
}

void SeekableWriter::finish() {
  cut();
  while (!in_flight_.empty()) write_oldest();
  std::string table = encode_seek_table(table_);
  out_.write(std::span<const std::byte>(reinterpret_cast<const std::byte*>(table.data()), table.size()));
  finished_ = true;
}

void SeekableWriter::work() {
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  if (cctx) {
    // One thread per frame inside zstd (nbWorkers 0): the frames themselves are the parallelism,
    // and the output stays identical whatever the number of threads.
    ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, options_.level);
    ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1);
    ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_contentSizeFlag, 1);
  }
  std::vector<std::byte> probe_buffer;
  for (;;) {
    Job* job;
    {
      std::unique_lock lock(mutex_);
      work_ready_.wait(lock, [this] { return stopping_ || !waiting_.empty(); });
      if (stopping_) return;
      job = waiting_.front();
      waiting_.pop_front();
    }
    std::string error;
    size_t produced = 0;
    if (!cctx) {
      error = "cannot create a compression context";
    } else {
      try {
        std::span<const std::byte> in(job->input.data(), job->input_size);
        bool raw = job->store;
        if (!raw && job->input_size > kMaxBlock) {
          // A probe of the first block decides for the whole frame: incompressible data (a
          // compressed layer that was not marked) is stored without spending the compressor on it.
          probe_buffer.resize(ZSTD_compressBound(kMaxBlock));
          size_t probe = ZSTD_compressCCtx(cctx.get(), probe_buffer.data(), probe_buffer.size(), in.data(), kMaxBlock,
                                           options_.level);
          raw = !ZSTD_isError(probe) && probe >= kMaxBlock - kMaxBlock / 64;
          // The simple API compresses at its own parameters; keep the frame's explicit.
          ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, options_.level);
          ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1);
          ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_contentSizeFlag, 1);
        }
        job->raw = raw;
        if (raw) {
          job->checksum = static_cast<uint32_t>(xxh64(in));
          produced = raw_frame_size(in.size());
        } else {
          // Stored frames never touch `output`: it costs memory only for compressed ones.
          job->output.resize(ZSTD_compressBound(job->input_size));
          produced = ZSTD_compress2(cctx.get(), job->output.data(), job->output.size(), in.data(), in.size());
          if (ZSTD_isError(produced)) error = ZSTD_getErrorName(produced);
        }
      } catch (const std::exception& e) {
        error = e.what();
      }
    }
    {
      std::lock_guard lock(mutex_);
      job->output_size = error.empty() ? produced : 0;
      job->error = std::move(error);
      job->done = true;
    }
    job_done_.notify_all();
  }
}

}  // namespace sealift::bundle
