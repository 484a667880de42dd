#include "bundle/archive_reader.h"

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

// Frames are decompressed in one call into a buffer of the seek table's size, so memory is bounded
// by kMaxFrameDecompressedSize; the window limit is a second fence for any streaming use.
constexpr int kWindowLogMax = 25;
static_assert((1u << kWindowLogMax) >= kMaxFrameDecompressedSize);

[[noreturn]] void bad_layout(const std::string& problem) {
  throw Error(ErrorKind::Input, problem, "the bundle is damaged or truncated; copy it again and compare its checksum");
}

}  // namespace

// Reads one entry frame by frame. Owns its decompression context and buffers, and only reads the
// shared reader, so several can run at once.
class EntrySource : public io::Source {
 public:
  EntrySource(const ArchiveReader& reader, const TocEntry& entry, uint64_t offset)
      : reader_(reader), dctx_(ZSTD_createDCtx(), ZSTD_freeDCtx) {
    if (!dctx_) throw Error(ErrorKind::Internal, "cannot create a zstd decompression context");
    ZSTD_DCtx_setParameter(dctx_.get(), ZSTD_d_windowLogMax, kWindowLogMax);
    std::vector<std::byte> header(entry.data_offset - entry.header_offset);
    read_stream(entry.header_offset, header);
    check_tar_header(header, entry);
    pos_ = entry.data_offset + offset;
    end_ = entry.data_offset + entry.size;
  }

  size_t read(std::span<std::byte> buf) override {
    if (pos_ == end_ || buf.empty()) return 0;
    size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), end_ - pos_));
    n = copy_from_frame(pos_, buf.first(n));
    pos_ += n;
    return n;
  }

 private:
  void read_stream(uint64_t pos, std::span<std::byte> out) {
    while (!out.empty()) {
      size_t n = copy_from_frame(pos, out);
      pos += n;
      out = out.subspan(n);
    }
  }

  // Copies from the frame holding `pos`, as much as that frame has; returns the count.
  size_t copy_from_frame(uint64_t pos, std::span<std::byte> out) {
    const std::vector<Frame>& frames = reader_.frames_;
    if (loaded_ >= frames.size() || pos < frames[loaded_].offset ||
        pos >= frames[loaded_].offset + frames[loaded_].size) {
      auto it = std::upper_bound(frames.begin(), frames.end(), pos,
                                 [](uint64_t p, const Frame& f) { return p < f.offset; });
      load(static_cast<size_t>(it - frames.begin()) - 1);
    }
    const Frame& f = frames[loaded_];
    uint64_t in_frame = pos - f.offset;
    size_t n = static_cast<size_t>(std::min<uint64_t>(out.size(), f.size - in_frame));
    std::memcpy(out.data(), frame_.data() + in_frame, n);
    return n;
  }

  void load(size_t index) {
    const Frame& f = reader_.frames_[index];
    auto damaged = [&](const std::string& problem) {
      throw Error(ErrorKind::Integrity,
                  fmt::format("{}: zstd frame {} (at byte {}) is damaged: {}", reader_.file_.name().string(), index,
                              f.compressed_offset, problem),
                  "the bundle was altered or damaged; copy it again and compare its checksum");
    };
    loaded_ = SIZE_MAX;
    compressed_.resize(f.compressed_size);
    reader_.file_.read_at(f.compressed_offset, compressed_);
    const std::byte* data = compressed_.data();
    if (read_le32(data) != kZstdFrameMagic) damaged("it does not start with the zstd frame magic");
    unsigned long long declared = ZSTD_getFrameContentSize(data, compressed_.size());
    if (declared == ZSTD_CONTENTSIZE_ERROR) damaged("its header cannot be parsed");
    if (declared == ZSTD_CONTENTSIZE_UNKNOWN) damaged("its header does not declare its decompressed size");
    if (declared != f.size) {
      damaged(fmt::format("it declares {} decompressed bytes but the seek table says {}", declared, f.size));
    }
    size_t frame_length = ZSTD_findFrameCompressedSize(data, compressed_.size());
    if (ZSTD_isError(frame_length) || frame_length != compressed_.size()) {
      damaged(fmt::format("it does not fill the {} bytes the seek table gives it", compressed_.size()));
    }
    // Byte 4 is the frame header descriptor; bit 2 says the frame ends with a content checksum.
    bool checksummed = (static_cast<uint8_t>(data[4]) >> 2) & 1;
    if (!checksummed) damaged("it carries no content checksum");
    if (f.has_checksum && read_le32(data + compressed_.size() - 4) != f.checksum) {
      damaged("its checksum disagrees with the seek table");
    }
    frame_.resize(f.size);
    size_t got = ZSTD_decompressDCtx(dctx_.get(), frame_.data(), frame_.size(), data, compressed_.size());
    if (ZSTD_isError(got)) damaged(ZSTD_getErrorName(got));
    if (got != f.size) damaged(fmt::format("it decompresses to {} bytes, not {}", got, f.size));
    loaded_ = index;
  }

  const ArchiveReader& reader_;
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx_;
  std::vector<std::byte> compressed_, frame_;
  size_t loaded_ = SIZE_MAX;
  uint64_t pos_ = 0, end_ = 0;
};

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
        toc_entry.compressed_size - kSkippableHeaderSize > kMaxTocSize) {
      bad_layout(fmt::format("the table of contents frame is {} bytes", toc_entry.compressed_size));
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

std::unique_ptr<io::Source> ArchiveReader::open(std::string_view name) const { return open_at(name, 0); }

std::unique_ptr<io::Source> ArchiveReader::open_at(std::string_view name, uint64_t offset) const {
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
