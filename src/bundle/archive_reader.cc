#include "bundle/archive_reader.h"

// ZSTD_d_stableOutBuffer: decompress straight into the frame buffer, with no window buffer.
#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h>

#include <algorithm>
#include <array>
#include <cstring>

#include <fmt/format.h>

#include "bundle/tar_header.h"
#include "util/error.h"

namespace sealift::bundle {

namespace fs = std::filesystem;

namespace {

// Frames are decompressed into a buffer of the seek table's size, so memory is bounded by
// kMaxFrameDecompressedSize; the window limit is a second fence.
constexpr int kWindowLogMax = 25;
static_assert((1u << kWindowLogMax) >= kMaxFrameDecompressedSize);
// Compressed bytes are read this much at a time: the whole compressed frame is never held.
constexpr size_t kInputSize = 256 << 10;

[[noreturn]] void bad_layout(const std::string& problem) {
  throw Error(ErrorKind::Input, problem, "the bundle is damaged or truncated; copy it again and compare its checksum");
}

}  // namespace

// What one open entry decompresses with. The frame buffer is left uninitialised (never read
// beyond what was decompressed into it) and only grows.
struct FrameBuffers {
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx{ZSTD_createDCtx(), ZSTD_freeDCtx};
  std::unique_ptr<std::byte[]> input{new std::byte[kInputSize]};
  std::unique_ptr<std::byte[]> frame;
  size_t frame_capacity = 0;

  FrameBuffers() {
    if (!dctx) throw Error(ErrorKind::Internal, "cannot create a zstd decompression context");
    ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, kWindowLogMax);
    ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_stableOutBuffer, 1);
  }

  std::byte* frame_of(size_t size) {
    if (size > frame_capacity) {
      frame.reset();
      frame.reset(new std::byte[size]);
      frame_capacity = size;
    }
    return frame.get();
  }
};

EntrySource::EntrySource(const ArchiveReader& reader, const TocEntry& entry, uint64_t offset)
    : reader_(reader), buffers_(reader.take_buffers()), entry_(&entry) {
  std::vector<std::byte> header(entry.data_offset - entry.header_offset);
  for (uint64_t pos = entry.header_offset; pos < entry.data_offset;) {
    std::span<const std::byte> part = view(pos, static_cast<size_t>(entry.data_offset - pos));
    std::memcpy(header.data() + (pos - entry.header_offset), part.data(), part.size());
    pos += part.size();
  }
  reader_.check_mtime(check_tar_header(header, entry), entry);
  pos_ = entry.data_offset + offset;
  end_ = entry.data_offset + entry.size;
}

EntrySource::EntrySource(const ArchiveReader& reader, uint64_t from, uint64_t to)
    : reader_(reader), buffers_(reader.take_buffers()), pos_(from), end_(to) {}

EntrySource::~EntrySource() { reader_.give_back(std::move(buffers_)); }

size_t EntrySource::read(std::span<std::byte> buf) {
  std::span<const std::byte> part = next(buf.size());
  if (!part.empty()) std::memcpy(buf.data(), part.data(), part.size());
  return part.size();
}

std::span<const std::byte> EntrySource::next(size_t max) {
  if (pos_ == end_ || max == 0) return {};
  std::span<const std::byte> part = view(pos_, static_cast<size_t>(std::min<uint64_t>(max, end_ - pos_)));
  pos_ += part.size();
  if (pos_ == end_ && entry_) {
    check_padding();
    // The padding lies in the frame just read unless a frame ends inside it; then the frame
    // holding `part` is loaded again so the span handed out stays valid.
    part = view(pos_ - part.size(), part.size());
  }
  return part;
}

// The zeros that pad the entry to the next tar block: bytes that no digest covers and that `tar x`
// would read as the start of the next header if they were not zero.
void EntrySource::check_padding() {
  const uint64_t padding_end = entry_->end();
  for (uint64_t at = end_; at < padding_end;) {
    std::span<const std::byte> padding = view(at, static_cast<size_t>(padding_end - at));
    check_zero(padding, at, fmt::format("the padding after '{}'", printable_name(entry_->name)));
    at += padding.size();
  }
}

void EntrySource::check_zero(std::span<const std::byte> bytes, uint64_t offset, const std::string& where) const {
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (bytes[i] != std::byte{0}) {
      throw Error(ErrorKind::Integrity,
                  fmt::format("{}: a non-zero byte at offset {} of the tar stream, in {}: no signature covers "
                              "these bytes, and tar would read them",
                              reader_.file_.name().string(), offset + i, where),
                  "the bundle was altered or damaged; do not use it");
    }
  }
}

// The bytes from `pos` to the end of the frame holding it, at most `max`.
std::span<const std::byte> EntrySource::view(uint64_t pos, size_t max) {
  const std::vector<Frame>& frames = reader_.frames_;
  if (loaded_ >= frames.size() || pos < frames[loaded_].offset || pos >= frames[loaded_].offset + frames[loaded_].size) {
    auto it = std::upper_bound(frames.begin(), frames.end(), pos, [](uint64_t p, const Frame& f) { return p < f.offset; });
    load(static_cast<size_t>(it - frames.begin()) - 1);
  }
  const Frame& f = frames[loaded_];
  uint64_t in_frame = pos - f.offset;
  size_t n = static_cast<size_t>(std::min<uint64_t>(max, f.size - in_frame));
  return {buffers_->frame.get() + in_frame, n};
}

// Decompresses frame `index` whole, reading it kInputSize bytes at a time; nothing of it is handed
// out before zstd has checked its content checksum at its end.
void EntrySource::load(size_t index) {
  const Frame& f = reader_.frames_[index];
  auto damaged = [&](const std::string& problem) {
    throw Error(ErrorKind::Integrity,
                fmt::format("{}: zstd frame {} (at byte {}) is damaged: {}", reader_.file_.name().string(), index,
                            f.compressed_offset, problem),
                "the bundle was altered or damaged; copy it again and compare its checksum");
  };
  loaded_ = SIZE_MAX;
  FrameBuffers& b = *buffers_;
  size_t chunk = std::min<size_t>(kInputSize, f.compressed_size);
  reader_.file_.read_at(f.compressed_offset, {b.input.get(), chunk});
  const std::byte* data = b.input.get();
  if (read_le32(data) != kZstdFrameMagic) damaged("it does not start with the zstd frame magic");
  unsigned long long declared = ZSTD_getFrameContentSize(data, chunk);
  if (declared == ZSTD_CONTENTSIZE_ERROR) damaged("its header cannot be parsed");
  if (declared == ZSTD_CONTENTSIZE_UNKNOWN) damaged("its header does not declare its decompressed size");
  if (declared != f.size) {
    damaged(fmt::format("it declares {} decompressed bytes but the seek table says {}", declared, f.size));
  }
  // Byte 4 is the frame header descriptor; bit 2 says the frame ends with a content checksum.
  bool checksummed = (static_cast<uint8_t>(data[4]) >> 2) & 1;
  if (!checksummed) damaged("it carries no content checksum");

  auto does_not_fill = [&] { damaged(fmt::format("it does not fill the {} bytes the seek table gives it", f.compressed_size)); };
  ZSTD_DCtx_reset(b.dctx.get(), ZSTD_reset_session_only);
  ZSTD_outBuffer out{b.frame_of(f.size), f.size, 0};
  uint64_t read = chunk;
  ZSTD_inBuffer in{data, chunk, 0};
  for (;;) {
    size_t in_before = in.pos, out_before = out.pos;
    size_t left = ZSTD_decompressStream(b.dctx.get(), &out, &in);
    if (ZSTD_isError(left)) damaged(ZSTD_getErrorName(left));
    if (left == 0) {
      if (in.pos != in.size || read != f.compressed_size) does_not_fill();
      break;
    }
    if (in.pos == in.size) {
      if (read == f.compressed_size) does_not_fill();
      chunk = static_cast<size_t>(std::min<uint64_t>(kInputSize, f.compressed_size - read));
      reader_.file_.read_at(f.compressed_offset + read, {b.input.get(), chunk});
      read += chunk;
      in = {b.input.get(), chunk, 0};
    } else if (in.pos == in_before && out.pos == out_before) {
      damaged("it decompresses to more bytes than it declares");
    }
  }
  if (out.pos != f.size) damaged(fmt::format("it decompresses to {} bytes, not {}", out.pos, f.size));
  if (f.has_checksum) {
    std::array<std::byte, 4> sum;
    reader_.file_.read_at(f.compressed_offset + f.compressed_size - sum.size(), sum);
    if (read_le32(sum.data()) != f.checksum) damaged("its checksum disagrees with the seek table");
  }
  loaded_ = index;
}

ArchiveReader::ArchiveReader(const fs::path& path) : file_(path) {
  try {
    const uint64_t size = file_.size();
    if (size < kSkippableHeaderSize + kSeekTableFooterSize) {
      bad_layout(fmt::format("{} bytes is too small for a bundle", size));
    }
    std::array<std::byte, kSeekTableFooterSize> footer_bytes;
    file_.read_at(size - footer_bytes.size(), footer_bytes);
    SeekTableFooter footer = parse_seek_table_footer(footer_bytes, size);
    std::vector<std::byte> table_bytes(footer.table_size);
    file_.read_at(size - footer.table_size, table_bytes);
    std::vector<SeekEntry> table = parse_seek_table(table_bytes, footer);
    table_bytes = {};
    if (table.empty()) bad_layout("the seek table lists no frames, not even the table of contents");

    // Every frame but the last holds the tar stream; the last is the table of contents.
    frames_.reserve(table.size() - 1);
    uint64_t compressed = 0, decompressed = 0;
    for (size_t i = 0; i + 1 < table.size(); ++i) {
      const SeekEntry& e = table[i];
      if (e.decompressed_size == 0) bad_layout(fmt::format("frame {} of the seek table holds no data", i));
      if (e.decompressed_size > kMaxFrameDecompressedSize) {
        bad_layout(fmt::format("frame {} claims {} decompressed bytes, more than the limit of {}", i,
                               e.decompressed_size, kMaxFrameDecompressedSize));
      }
      if (e.compressed_size > ZSTD_compressBound(e.decompressed_size) || e.compressed_size < 8) {
        bad_layout(fmt::format("frame {} claims {} compressed bytes for {} decompressed", i, e.compressed_size,
                               e.decompressed_size));
      }
      frames_.push_back({compressed, e.compressed_size, decompressed, e.decompressed_size, e.checksum, footer.checksums});
      compressed += e.compressed_size;
      decompressed += e.decompressed_size;
    }
    const SeekEntry& toc_entry = table.back();
    if (toc_entry.decompressed_size != 0) bad_layout("the last frame before the seek table is not the table of contents");
    if (compressed + toc_entry.compressed_size != size - footer.table_size) {
      bad_layout(fmt::format("the seek table's frames add up to {} bytes, but {} bytes precede it",
                             compressed + toc_entry.compressed_size, size - footer.table_size));
    }
    if (toc_entry.compressed_size < kSkippableHeaderSize ||
        toc_entry.compressed_size - kSkippableHeaderSize > max_toc_size(decompressed)) {
      bad_layout(fmt::format("the table of contents frame is {} bytes, more than the {} bytes a tar stream of {} "
                             "bytes can need",
                             toc_entry.compressed_size, max_toc_size(decompressed) + kSkippableHeaderSize,
                             decompressed));
    }
    std::vector<std::byte> toc_bytes(toc_entry.compressed_size);
    file_.read_at(compressed, toc_bytes);
    if (read_le32(toc_bytes.data()) != kTocMagic ||
        read_le32(toc_bytes.data() + 4) != toc_entry.compressed_size - kSkippableHeaderSize) {
      bad_layout("the frame before the seek table is not a sealift table of contents");
    }
    std::string_view toc_text(reinterpret_cast<const char*>(toc_bytes.data()) + kSkippableHeaderSize,
                              toc_bytes.size() - kSkippableHeaderSize);
    toc_ = parse_toc(toc_text, decompressed);
    tar_size_ = decompressed;
  } catch (const Error& e) {
    throw Error(e.kind(), fmt::format("{}: {}", path.string(), e.what()), e.hint());
  }
  for (size_t i = 0; i < toc_.entries.size(); ++i) index_.emplace(toc_.entries[i].name, i);
}

ArchiveReader::~ArchiveReader() = default;

std::unique_ptr<FrameBuffers> ArchiveReader::take_buffers() const {
  {
    std::lock_guard lock(pool_mutex_);
    if (!pool_.empty()) {
      std::unique_ptr<FrameBuffers> b = std::move(pool_.back());
      pool_.pop_back();
      return b;
    }
  }
  return std::make_unique<FrameBuffers>();
}

void ArchiveReader::give_back(std::unique_ptr<FrameBuffers> buffers) const {
  if (!buffers) return;
  std::lock_guard lock(pool_mutex_);
  // A burst of open entries (hundreds of `serve` clients) must not keep its memory once it is over.
  if (pool_.size() < kPooledBuffers) pool_.push_back(std::move(buffers));
}

void ArchiveReader::check_mtime(int64_t mtime, const TocEntry& entry) const {
  int64_t first = -1;
  if (mtime_.compare_exchange_strong(first, mtime) || first == mtime) return;
  throw Error(ErrorKind::Integrity,
              fmt::format("{}: the tar header at offset {} gives '{}' the modification time {}, where the bundle's "
                          "other entries have {}",
                          file_.name().string(), entry.header_offset, printable_name(entry.name), mtime, first),
              "the bundle was altered or damaged; do not use it");
}

void ArchiveReader::check_end_of_archive() const {
  EntrySource marker(*this, tar_size_ - kTarEndSize, tar_size_);
  for (uint64_t at = tar_size_ - kTarEndSize;;) {
    std::span<const std::byte> part = marker.next();
    if (part.empty()) break;
    marker.check_zero(part, at, "the end-of-archive marker");
    at += part.size();
  }
}

const TocEntry* ArchiveReader::find(std::string_view name) const {
  auto it = index_.find(std::string(name));
  return it == index_.end() ? nullptr : &toc_.entries[it->second];
}

const TocEntry& ArchiveReader::entry(std::string_view name) const {
  const TocEntry* e = find(name);
  if (!e) {
    throw Error(ErrorKind::Input,
                fmt::format("{}: the bundle has no entry '{}'", file_.name().string(), printable_name(name)));
  }
  return *e;
}

std::unique_ptr<EntrySource> ArchiveReader::open(std::string_view name) const { return open_at(name, 0); }

std::unique_ptr<EntrySource> ArchiveReader::open_at(std::string_view name, uint64_t offset) const {
  const TocEntry& e = entry(name);
  if (offset > e.size) {
    throw Error(ErrorKind::Usage, fmt::format("offset {} is beyond the end of '{}' ({} bytes)", offset, name, e.size));
  }
  return std::make_unique<EntrySource>(*this, e, offset);
}

std::string ArchiveReader::read_small(std::string_view name, uint64_t max_size) const {
  const TocEntry& e = entry(name);
  if (e.size > max_size) {
    throw Error(ErrorKind::Input, fmt::format("'{}' is {} bytes, more than the {} bytes allowed for it", name, e.size,
                                              max_size));
  }
  std::string out(e.size, '\0');
  EntrySource source(*this, e, 0);
  std::span<std::byte> rest(reinterpret_cast<std::byte*>(out.data()), out.size());
  while (!rest.empty()) rest = rest.subspan(source.read(rest));
  return out;
}

}  // namespace sealift::bundle
