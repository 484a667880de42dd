// Helpers shared by the bundle archive tests: deterministic payloads, tar streams crafted with
// libarchive (including the entries a bundle must never hold), and archives framed by hand so that
// every field a hostile bundle could lie about can be set.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <zstd.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "bundle/archive_reader.h"
#include "bundle/archive_writer.h"
#include "bundle/seekable_format.h"
#include "bundle/seekable_writer.h"
#include "bundle/toc.h"
#include "oci/digest.h"
#include "util/error.h"
#include "util/fs.h"
#include "env/process.h"

namespace sealift::bundle::testing {

// Runs a shell script, expecting success; returns its stdout.
inline std::string sh(const std::string& script) {
  auto r = testenv::run({"sh", "-c", script});
  EXPECT_EQ(r.exit_code, 0) << script << "\n" << r.err;
  return r.out;
}

inline std::span<const std::byte> bytes_of(const std::string& s) { return std::as_bytes(std::span(s)); }

// A zstd frame of `size` zero bytes, with or without the content size in its header and the
// content checksum: the zip bomb and the frames that leave out what the reader requires.
inline std::string zero_frame(size_t size, bool content_size, bool checksum) {
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, checksum);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_contentSizeFlag, content_size);
  if (content_size) ZSTD_CCtx_setPledgedSrcSize(cctx.get(), size);
  std::string zeros(1 << 20, '\0'), out(ZSTD_compressBound(zeros.size()), '\0'), frame;
  for (size_t done = 0; done < size;) {
    size_t n = std::min(zeros.size(), size - done);
    done += n;
    ZSTD_inBuffer in{zeros.data(), n, 0};
    ZSTD_EndDirective mode = done == size ? ZSTD_e_end : ZSTD_e_continue;
    size_t left;
    do {
      ZSTD_outBuffer o{out.data(), out.size(), 0};
      left = ZSTD_compressStream2(cctx.get(), &o, &in, mode);
      frame.append(out.data(), o.pos);
    } while (mode == ZSTD_e_end ? left != 0 : in.pos < in.size);
  }
  return frame;
}

// Bytes that do not compress, the same for the same seed.
inline std::string random_bytes(size_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::string s(n, '\0');
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = rng();
    for (size_t j = 0; j < 8 && i + j < n; ++j) s[i + j] = static_cast<char>(v >> (8 * j));
  }
  return s;
}

struct Payload {
  std::string name;
  std::string content;
};

// What a bundle looks like: small metadata first, then many blobs of awkward sizes around the tar
// block and frame boundaries, a long name, and one large entry spanning several frames.
inline std::vector<Payload> sample_payloads() {
  std::vector<Payload> p;
  p.push_back({"oci-layout", R"({"imageLayoutVersion":"1.0.0"})"});
  p.push_back({"sealift.json", R"({"formatVersion":1,"name":"demo"})"});
  p.push_back({"index.json", R"({"schemaVersion":2,"manifests":[]})"});
  size_t sizes[] = {0, 1, 511, 512, 513, 1000, 4096, 70000, 65535, 65536, 200000, 3};
  uint32_t seed = 1;
  for (size_t size : sizes) {
    std::string content = random_bytes(size, seed++);
    p.push_back({"blobs/sha256/" + oci::Digest::of(content).str().substr(7), content});
  }
  p.push_back({"blobs/compressible", std::string(300000, 'a')});
  p.push_back({"dir/" + std::string(120, 'n') + "/" + std::string(90, 'm'), "needs the ustar prefix field"});
  p.push_back({"long/" + std::string(200, 'x') + "/" + std::string(150, 'y'), "needs a pax header"});
  std::string big = random_bytes(3 * 1024 * 1024 + 12345, 99);
  p.push_back({"blobs/sha256/" + oci::Digest::of(big).str().substr(7), big});
  p.push_back({"trailer", "last small entry"});
  return p;
}

inline WriterOptions small_frames(unsigned threads = 2) {
  WriterOptions o;
  o.compression.frame_size = 256 * 1024;
  o.compression.threads = threads;
  o.mtime = 1700000000;
  return o;
}

inline std::vector<std::filesystem::path> write_bundle(const std::filesystem::path& path,
                                                       const std::vector<Payload>& payloads,
                                                       const WriterOptions& options) {
  ArchiveWriter w(path, options);
  for (const Payload& p : payloads) w.add_bytes(p.name, p.content);
  return w.finish();
}

inline std::string read_entry(const ArchiveReader& r, const std::string& name, uint64_t offset = 0) {
  auto src = r.open_at(name, offset);
  io::StringSink sink;
  io::copy(*src, sink, 100000);
  return sink.out;
}

// Runs fn and checks it throws sealift::Error of `kind` whose message contains `needle`.
inline void expect_error(const std::function<void()>& fn, ErrorKind kind, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "no error; expected one containing: " << needle;
  } catch (const Error& e) {
    EXPECT_EQ(static_cast<int>(e.kind()), static_cast<int>(kind)) << e.what();
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << "message: " << e.what();
  }
}

// A tar stream written by libarchive, with the TOC entries that describe it.
struct TarItem {
  TarItem(std::string n, std::string c, unsigned t = AE_IFREG, std::string l = {})
      : name(std::move(n)), content(std::move(c)), type(t), link(std::move(l)) {}
  std::string name;
  std::string content;
  unsigned type = AE_IFREG;
  std::string link;  // symlink target or hard link target
};

struct CraftedTar {
  std::string bytes;
  Toc toc;
};

inline CraftedTar craft_tar(const std::vector<TarItem>& items) {
  CraftedTar out;
  archive* a = archive_write_new();
  archive_write_set_format_pax_restricted(a);
  archive_write_set_bytes_per_block(a, 0);
  archive_write_open(
      a, &out.bytes, nullptr,
      [](archive*, void* sink, const void* buf, size_t n) -> la_ssize_t {
        static_cast<std::string*>(sink)->append(static_cast<const char*>(buf), n);
        return static_cast<la_ssize_t>(n);
      },
      nullptr);
  for (const TarItem& item : items) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, item.name.c_str());
    archive_entry_set_perm(e, 0644);
    if (item.type == AE_IFLNK) {
      archive_entry_set_filetype(e, AE_IFLNK);
      archive_entry_set_symlink(e, item.link.c_str());
    } else if (!item.link.empty()) {
      archive_entry_set_filetype(e, AE_IFREG);
      archive_entry_set_hardlink(e, item.link.c_str());
    } else {
      archive_entry_set_filetype(e, item.type);
      archive_entry_set_size(e, static_cast<la_int64_t>(item.content.size()));
    }
    TocEntry t{item.name, out.bytes.size(), 0, item.content.size()};
    archive_write_header(a, e);
    t.data_offset = out.bytes.size();
    if (!item.content.empty()) archive_write_data(a, item.content.data(), item.content.size());
    archive_write_finish_entry(a);
    archive_entry_free(e);
    out.toc.entries.push_back(t);
  }
  archive_write_close(a);
  archive_write_free(a);
  return out;
}

// Frames `tar` into zstd frames of frame_size bytes and appends `toc_frame` and the seek table, as
// the writer does, without any of the writer's checks.
inline std::string frame_archive(const std::string& tar, const std::string& toc_frame, size_t frame_size = 64 * 1024) {
  io::StringSink sink;
  CompressionOptions o;
  o.frame_size = frame_size;
  o.threads = 1;
  SeekableWriter w(sink, o);
  w.write(std::span<const std::byte>(reinterpret_cast<const std::byte*>(tar.data()), tar.size()));
  w.add_skippable(toc_frame);
  w.finish();
  return sink.out;
}

inline std::string toc_frame(const std::string& json) { return skippable_frame(kTocMagic, json); }

// Offsets of ustar header fields (POSIX), for headers changed by hand.
inline constexpr size_t kUstarMode = 100, kUstarUid = 108, kUstarMtime = 136, kUstarChecksum = 148,
                        kUstarUname = 265, kUstarDevmajor = 329;

// Overwrites a field of the ustar header at `header` in `tar` and recomputes the header's
// checksum, as a tamperer would: libarchive and tar then accept the header as valid.
inline void set_ustar_field(std::string& tar, uint64_t header, size_t field, const std::string& value) {
  tar.replace(header + field, value.size(), value);
  unsigned sum = 0;
  for (size_t i = 0; i < 512; ++i) {
    bool in_checksum = i >= kUstarChecksum && i < kUstarChecksum + 8;
    sum += in_checksum ? ' ' : static_cast<unsigned char>(tar[header + i]);
  }
  char field_text[8];
  std::snprintf(field_text, sizeof field_text, "%06o", sum);
  tar.replace(header + kUstarChecksum, 8, std::string(field_text, 6) + std::string("\0 ", 2));
}

// `items` as a tar stream whose last item is hidden in the 1024 bytes of the end-of-archive
// marker (its header, then one zero block), with a TOC that lists only the others: every listed
// entry is intact, yet `tar x` extracts the hidden one.
inline CraftedTar with_member_in_the_end_marker(const std::vector<TarItem>& items) {
  CraftedTar tar = craft_tar(items);
  const TocEntry hidden = tar.toc.entries.back();
  EXPECT_EQ(hidden.data_offset - hidden.header_offset, 512u) << "the hidden member needs a plain ustar header";
  tar.toc.entries.pop_back();
  tar.bytes = tar.bytes.substr(0, hidden.data_offset) + std::string(512, '\0');
  return tar;
}

}  // namespace sealift::bundle::testing
