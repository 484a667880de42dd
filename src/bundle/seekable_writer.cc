#include "bundle/seekable_writer.h"

#include <zstd.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "util/error.h"

namespace sealift::bundle {

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
  } else {
    job = std::make_unique<Job>();
  }
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
  out_.write(std::span<const std::byte>(job->output.data(), job->output_size));
  SeekEntry entry;
  entry.compressed_size = static_cast<uint32_t>(job->output_size);
  if (job->skippable) {
    entry.checksum = kEmptyChecksum;
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
        job->output.resize(ZSTD_compressBound(job->input_size));
        produced = ZSTD_compress2(cctx.get(), job->output.data(), job->output.size(), job->input.data(),
                                  job->input_size);
        if (ZSTD_isError(produced)) error = ZSTD_getErrorName(produced);
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
