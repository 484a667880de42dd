// Hostile bundles at the installer's level (issue 9): bundles built by the real `sealift-bundle
// build`, then damaged or crafted on purpose, must be refused by `sealift-install verify` and by
// `sealift-install push` before a single tag (or manifest) reaches the target, with an error that
// names the problem. The archive reader's own checks on synthetic archives are in
// tests/bundle/hostile_archive_test.cc; this suite feeds the same lies inside real bundles to the
// programs a customer runs.
#include <zstd.h>

#include <random>

#include <fmt/format.h>

#include "bundle/archive_fixtures.h"
#include "harness.h"
#include "install/verify.h"
#include "lock/image_lock.h"
#include "ref/reference.h"
#include "sign/blob.h"
#include "sign/key.h"
#include "sign/password.h"
#include "sign/sigmanifest.h"
#include "sign/sigstore_bundle.h"
#include "util/error.h"

namespace sealift::install::testing {
namespace {

using bundle::testing::TarItem;

fs::path scratch(const std::string& name) {
  static testenv::TempDir dir("sealift-hostile-test");
  return dir / name;
}

// Every entry of the bundle by what it is, found by walking from sealift.json as the verifier does.
std::map<std::string, std::set<std::string>> entries_by_kind(const fs::path& path) {
  bundle::ArchiveReader reader(path);
  bundle::Root root = bundle::Root::parse(reader.read_small("sealift.json"));
  std::map<std::string, std::set<std::string>> out;
  for (const char* fixed : {"oci-layout", "sealift.json", "sealift.json.sig", "index.json"}) out[fixed].insert(fixed);
  auto manifest = [&](const oci::Digest& digest, const std::string& media_type) {
    return oci::Manifest::parse(reader.read_small(bundle::blob_path(digest)), media_type);
  };
  const std::string oci_manifest(oci::media::kOciManifest);
  auto signature = [&](const oci::Digest& digest) {
    out["signature manifest"].insert(bundle::blob_path(digest));
    oci::Manifest m = manifest(digest, oci_manifest);
    out["signature config"].insert(bundle::blob_path(m.config().digest));
    for (const auto& l : m.layers()) out["signature payload"].insert(bundle::blob_path(l.digest));
  };
  auto referrer = [&](const oci::Digest& digest) {
    out["signature referrer"].insert(bundle::blob_path(digest));
    oci::Manifest m = manifest(digest, oci_manifest);
    out["referrer config"].insert(bundle::blob_path(m.config().digest));
    for (const auto& l : m.layers()) out["sigstore bundle"].insert(bundle::blob_path(l.digest));
  };
  for (const auto& image : root.images) {
    std::vector<std::pair<oci::Digest, std::string>> platforms = {{image.digest, image.media_type}};
    oci::Manifest t = manifest(image.digest, image.media_type);
    if (t.is_index()) {
      out["image index"].insert(bundle::blob_path(image.digest));
      platforms.clear();
      for (const auto& p : t.manifests()) platforms.emplace_back(p.digest, p.media_type);
    }
    for (const auto& [digest, media_type] : platforms) {
      oci::Manifest m = manifest(digest, media_type);
      out["image manifest"].insert(bundle::blob_path(digest));
      out["image config"].insert(bundle::blob_path(m.config().digest));
      for (const auto& l : m.layers()) out["image layer"].insert(bundle::blob_path(l.digest));
    }
    signature(image.signature);
    referrer(image.referrer);
  }
  oci::Manifest chart = manifest(root.chart.manifest, oci_manifest);
  out["chart manifest"].insert(bundle::blob_path(root.chart.manifest));
  out["chart config"].insert(bundle::blob_path(chart.config().digest));
  out["chart package"].insert(bundle::blob_path(root.chart.package));
  signature(root.chart.signature);
  referrer(root.chart.referrer);
  return out;
}

// How an error names an entry: by its name, or for a blob by its digest (a signature payload is
// checked by digest inside the signature check).
std::string named(const std::string& entry) { return entry.rfind("blobs/sha256/", 0) == 0 ? entry.substr(13) : entry; }

// Offsets to damage in an entry of `size` bytes: both ends, the quarters, and a few at random.
std::vector<size_t> sample_offsets(size_t size, std::mt19937& rng) {
  std::set<size_t> at = {0, 1, size / 4, size / 2, 3 * size / 4, size - 2, size - 1};
  for (int i = 0; i < 3; ++i) at.insert(rng() % size);
  return {at.begin(), at.end()};
}

sign::PrivateKey key_of(const fs::path& public_key) {
  return sign::PrivateKey::from_file(public_key.parent_path() / "cosign.key", sign::Secret::copy_of(factory().key_password()));
}

std::string signed_with(const sign::PrivateKey& key, const std::string& bytes) {
  io::MemorySource source(bytes);
  return sign::sign_blob(key, source);
}

// The verifier in-process, as `verify` and `push` run it; returns its error message, or "" when
// the bundle passed.
std::string verify_error(const fs::path& path) {
  try {
    bundle::ArchiveReader reader(path);
    util::Progress quiet(util::Progress::Mode::Quiet);
    verify_bundle(reader, sign::TrustedKeys::from_files({factory().public_key()}), {}, quiet);
    return "";
  } catch (const Error& e) {
    return e.what();
  }
}

// A target that must stay untouched: a project exists, so a push would have gone ahead.
class UntouchedTarget {
 public:
  UntouchedTarget() { target_.harbor().create_project("ai-saas"); }
  Target& operator*() { return target_; }
  Target* operator->() { return &target_; }

  // No manifest or tag written, no repository has a tag. Blob uploads may have started: push
  // hashes a layer as it sends it and withholds its last byte when the digest is wrong (so an
  // altered layer never lands), while intact blobs of the same bundle may complete; they are
  // content-addressed and nothing refers to them.
  void expect_untouched(const testenv::BuiltBundle& b) {
    EXPECT_EQ(target_.harbor().count_requests("PUT", "/manifests/"), 0u);
    for (const auto& image : b.lock.images)
      EXPECT_TRUE(target_.tags("ai-saas/" + image.source.repository).empty()) << image.source.str();
    EXPECT_TRUE(target_.tags("ai-saas/charts/" + b.lock.chart.name).empty());
  }

 private:
  Target target_;
};

// `verify` and `push` both refuse `path`, each naming `names` on stderr and printing nothing on stdout.
void expect_refused_by_both(const fs::path& path, UntouchedTarget& target, const std::string& names) {
  RunResult v = install({"verify", path.string(), "--key", factory().public_key().string()});
  EXPECT_NE(v.exit_code, 0) << said(v);
  EXPECT_NE(v.err.find(names), std::string::npos) << "verify should name " << names << "\n" << said(v);
  EXPECT_EQ(v.out, "");
  RunResult p = target->push(path);
  EXPECT_NE(p.exit_code, 0) << said(p);
  EXPECT_NE(p.err.find(names), std::string::npos) << "push should name " << names << "\n" << said(p);
  EXPECT_EQ(p.out, "");
}

TEST(HostileBundle, AFlippedByteInAnyKindOfEntryIsRefusedNamingIt) {
  const auto& b = full_bundle();
  auto kinds = entries_by_kind(b.path);
  // Every kind a bundle holds is covered: a new kind of entry must be added here.
  for (const char* kind : {"oci-layout", "sealift.json", "sealift.json.sig", "index.json", "image index",
                           "image manifest", "image config", "image layer", "signature manifest", "signature config",
                           "signature payload", "chart manifest", "chart config", "chart package",
                           "signature referrer", "referrer config", "sigstore bundle"})
    ASSERT_FALSE(kinds[kind].empty()) << kind;
  ASSERT_EQ(kinds.size(), 17u);

  // The tamperer's way: the content of one entry changed, the archive around it well-formed.
  std::mt19937 rng(9);
  const fs::path tampered = scratch("tampered.tar.zst");
  const std::string good = util::read_file(b.path);
  bundle::ArchiveReader reader(b.path);
  std::map<std::string, fs::path> one_per_kind;  // pushed through the program below
  size_t cases = 0;
  for (const auto& [kind, names] : kinds) {
    // The first and the last entry of the kind (e.g. a Docker and an OCI manifest).
    for (const std::string& entry : std::set<std::string>{*names.begin(), *names.rbegin()}) {
      const std::string content = entry_text(b.path, entry);
      ASSERT_GE(content.size(), 2u) << entry;  // the referrers' empty config is "{}"
      for (size_t at : sample_offsets(content.size(), rng)) {
        SCOPED_TRACE(kind + " " + entry + " byte " + std::to_string(at));
        util::write_file_atomic(tampered, testenv::flip_content_byte(good, reader, entry, at, 1 << (rng() % 8)));
        std::string error = verify_error(tampered);
        ASSERT_NE(error, "") << "accepted";
        EXPECT_NE(error.find(named(entry)), std::string::npos) << error;
        ++cases;
      }
    }
    fs::path sample = scratch("tampered-" + std::to_string(one_per_kind.size()) + ".tar.zst");
    const std::string entry = *names.rbegin();
    util::write_file_atomic(sample, testenv::flip_content_byte(good, reader, entry, entry_text(b.path, entry).size() / 2));
    one_per_kind[entry] = sample;
  }
  EXPECT_GT(cases, 150u);
  RecordProperty("flips", static_cast<int>(cases));

  // The customer's way, one per kind: verify and push refuse, naming the entry; nothing lands.
  UntouchedTarget target;
  for (const auto& [entry, path] : one_per_kind) {
    SCOPED_TRACE(entry);
    expect_refused_by_both(path, target, named(entry));
  }
  target.expect_untouched(b);
}

// What `zstd -d` makes of `file`: every frame's content, skippable frames left out. Throws on
// a damaged frame.
std::string zstd_content(const std::string& file) {
  std::unique_ptr<ZSTD_DCtx, decltype(&ZSTD_freeDCtx)> dctx(ZSTD_createDCtx(), ZSTD_freeDCtx);
  std::string out, buf(ZSTD_DStreamOutSize(), '\0');
  ZSTD_inBuffer in{file.data(), file.size(), 0};
  while (in.pos < in.size) {
    ZSTD_outBuffer o{buf.data(), buf.size(), 0};
    size_t r = ZSTD_decompressStream(dctx.get(), &o, &in);
    if (ZSTD_isError(r)) throw std::runtime_error(ZSTD_getErrorName(r));
    out.append(buf.data(), o.pos);
  }
  return out;
}

TEST(HostileBundle, DamageInTheCompressedFileIsRefusedUnlessItChangesNothing) {
  const auto& b = full_bundle();
  auto kinds = entries_by_kind(b.path);
  bundle::ArchiveReader reader(b.path);
  const std::string good = util::read_file(b.path);
  const fs::path damaged = scratch("damaged.tar.zst");
  const oci::Digest good_content = oci::Digest::of(zstd_content(good));
  std::mt19937 rng(99);
  size_t cases = 0, harmless = 0;
  for (const auto& [kind, names] : kinds) {
    const bundle::TocEntry* e = reader.find(*names.rbegin());
    ASSERT_NE(e, nullptr);
    // The frames holding the entry's content; damage lands anywhere in their compressed bytes,
    // frame headers and checksums included.
    for (const auto& f : reader.frames()) {
      if (f.offset + f.size <= e->data_offset || f.offset >= e->data_offset + e->size) continue;
      std::set<uint64_t> at = {f.compressed_offset, f.compressed_offset + 5, f.compressed_offset + f.compressed_size - 1,
                               f.compressed_offset + f.compressed_size / 2};
      for (int i = 0; i < 3; ++i) at.insert(f.compressed_offset + rng() % f.compressed_size);
      for (uint64_t byte : at) {
        SCOPED_TRACE(kind + " " + e->name + " file byte " + std::to_string(byte));
        std::string bad = good;
        bad[byte] = static_cast<char>(bad[byte] ^ (1 << (rng() % 8)));
        util::write_file_atomic(damaged, bad);
        std::string error = verify_error(damaged);
        ++cases;
        if (error.empty()) {
          // Accepted only when nothing read changed: a compressed block can hold bits that decode
          // to the same bytes (zstd's checksum covers the content, not its encoding), and then
          // every digest still holds. Any change to what the archive holds must be refused.
          ASSERT_EQ(oci::Digest::of(zstd_content(bad)), good_content) << "accepted damage that changed the content";
          ++harmless;
          continue;
        }
        // The frame is shared by small entries: the first one read from it is named.
        EXPECT_NE(error.find("entry "), std::string::npos) << error;
      }
      if (cases > 400) break;
    }
  }
  EXPECT_GT(cases, 80u);
  EXPECT_LT(harmless * 20, cases) << "most damage must change what is read";
  RecordProperty("damaged", static_cast<int>(cases));
  RecordProperty("harmless", static_cast<int>(harmless));

  // Through the programs, once at the layer's frame.
  UntouchedTarget target;
  std::string layer = *kinds["image layer"].rbegin();
  testenv::flip_byte_in_entry(b.path, damaged, layer);
  expect_refused_by_both(damaged, target, "is damaged");
  target.expect_untouched(b);
}

// The archive the bundle would be if its tar stream held `items`, framed and indexed faithfully
// (a fresh TOC and seek table that tell the truth about the crafted tar).
std::string archive_of(const std::vector<TarItem>& items) {
  auto tar = bundle::testing::craft_tar(items);
  return bundle::testing::frame_archive(tar.bytes, bundle::testing::toc_frame(bundle::encode_toc(tar.toc)));
}

std::vector<TarItem> items_of(const fs::path& path) {
  bundle::ArchiveReader reader(path);
  std::vector<TarItem> items;
  for (const auto& e : reader.entries()) items.emplace_back(e.name, reader.read_small(e.name, 1 << 30));
  return items;
}

// One zstd frame, with its content size and checksum, holding `bytes`; or, with `declared`,
// `declared` zero bytes (a frame that inflates far beyond what the seek table gives it).
std::string zstd_frame(const std::string& bytes, size_t declared = 0) {
  if (declared) return bundle::testing::zero_frame(declared, true, true);
  std::unique_ptr<ZSTD_CCtx, decltype(&ZSTD_freeCCtx)> cctx(ZSTD_createCCtx(), ZSTD_freeCCtx);
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1);
  std::string out(ZSTD_compressBound(bytes.size()), '\0');
  size_t n = ZSTD_compress2(cctx.get(), out.data(), out.size(), bytes.data(), bytes.size());
  EXPECT_FALSE(ZSTD_isError(n));
  out.resize(n);
  return out;
}

uint32_t trailing_checksum(const std::string& frame) {
  return bundle::read_le32(reinterpret_cast<const std::byte*>(frame.data() + frame.size() - 4));
}

// The real bundle's tar stream with the content of `entry` in a frame of its own, which declares
// `declared` decompressed bytes where the seek table gives it the entry's size: a zip bomb.
std::string with_bomb_frame(const fs::path& path, const std::string& entry, size_t declared) {
  auto items = items_of(path);
  auto tar = bundle::testing::craft_tar(items);
  const bundle::TocEntry* e = nullptr;
  for (const auto& t : tar.toc.entries)
    if (t.name == entry) e = &t;
  EXPECT_NE(e, nullptr);
  std::string file;
  std::vector<bundle::SeekEntry> table;
  auto add = [&](const std::string& frame, uint64_t size) {
    file += frame;
    table.push_back({static_cast<uint32_t>(frame.size()), static_cast<uint32_t>(size), trailing_checksum(frame)});
  };
  auto add_plain = [&](uint64_t from, uint64_t to) {
    for (uint64_t at = from; at < to; at += 1 << 20) {
      uint64_t n = std::min<uint64_t>(1 << 20, to - at);
      add(zstd_frame(tar.bytes.substr(at, n)), n);
    }
  };
  add_plain(0, e->data_offset);
  add(zstd_frame({}, declared), e->size);
  add_plain(e->data_offset + e->size, tar.bytes.size());
  std::string toc = bundle::testing::toc_frame(bundle::encode_toc(tar.toc));
  file += toc;
  table.push_back({static_cast<uint32_t>(toc.size()), 0, bundle::kEmptyChecksum});
  return file + bundle::encode_seek_table(table);
}

TEST(HostileBundle, ArchivesThatLieAreRefusedBeforeAnyTag) {
  const auto& b = full_bundle();
  UntouchedTarget target;
  const std::string good = util::read_file(b.path);
  const auto items = items_of(b.path);
  auto kinds = entries_by_kind(b.path);
  const std::string layer = first_layer(b.path, "docker.io/library/postgres:16.4");
  const std::string other_layer = first_layer(b.path, "docker.io/library/redis:7.4");
  auto write = [](const std::string& name, const std::string& bytes) {
    fs::path p = scratch(name);
    util::write_file_atomic(p, bytes);
    return p;
  };
  auto replaced = [&](const std::string& entry, const TarItem& with) {
    std::vector<TarItem> out;
    for (const auto& item : items) out.push_back(item.name == entry ? with : item);
    return out;
  };
  // The crafted archive is faithful: unchanged, it verifies.
  ASSERT_EQ(verify_error(write("crafted.tar.zst", archive_of(items))), "");

  // Truncated: anywhere, the end (seek table) is gone.
  expect_refused_by_both(write("half.tar.zst", good.substr(0, good.size() / 2)), target, "no zstd seek table at the end");
  expect_refused_by_both(write("short.tar.zst", good.substr(0, good.size() - 1)), target, "no zstd seek table at the end");

  // The TOC: an entry beyond the end of the stream, one placed outside the file, two overlapping.
  auto tar = bundle::testing::craft_tar(items);
  auto with_toc = [&](const bundle::Toc& toc) {
    return bundle::testing::frame_archive(tar.bytes, bundle::testing::toc_frame(bundle::encode_toc(toc)));
  };
  const size_t last = tar.toc.entries.size() - 1, mid = last / 2;
  bundle::Toc beyond = tar.toc;
  beyond.entries[last].size += 1ull << 30;
  expect_refused_by_both(write("beyond.tar.zst", with_toc(beyond)), target, "ends beyond the tar stream");
  bundle::Toc outside = tar.toc;
  outside.entries[mid].header_offset = outside.entries[mid].data_offset = 1ull << 40;
  expect_refused_by_both(write("outside.tar.zst", with_toc(outside)), target, "overlap or leave a gap");
  bundle::Toc overlapping = tar.toc;
  overlapping.entries[mid].header_offset -= 512;
  overlapping.entries[mid].data_offset -= 512;
  expect_refused_by_both(write("overlap.tar.zst", with_toc(overlapping)), target, "overlap or leave a gap");

  // The same name twice with different content (tar x would keep the second).
  std::vector<TarItem> dup = items;
  dup.emplace_back(layer, "a different layer, second in the stream");
  expect_refused_by_both(write("duplicate.tar.zst", archive_of(dup)), target, "'" + layer + "' is listed twice");

  // Names that climb out or are absolute, in place of a layer.
  expect_refused_by_both(write("dotdot.tar.zst", archive_of(replaced(layer, {"blobs/../../etc/cron.d/x", "* * * * * root id"}))),
                         target, "blobs/../../etc/cron.d/x");
  expect_refused_by_both(write("absolute.tar.zst", archive_of(replaced(layer, {"/etc/cron.d/x", "* * * * * root id"}))),
                         target, "absolute path");

  // Links: in place of a layer, the size check sees an entry of 0 bytes first; in place of the
  // first entries read, the reader sees the link in the tar header.
  expect_refused_by_both(write("symlink.tar.zst", archive_of(replaced(layer, {layer, "", AE_IFLNK, "/etc/shadow"}))),
                         target, layer + " (docker.io/library/postgres:16.4) has 0 bytes");
  expect_refused_by_both(write("hardlink.tar.zst", archive_of(replaced(layer, {layer, "", AE_IFREG, other_layer}))),
                         target, layer + " (docker.io/library/postgres:16.4) has 0 bytes");
  expect_refused_by_both(
      write("symlink-layout.tar.zst", archive_of(replaced("oci-layout", {"oci-layout", "", AE_IFLNK, "/etc/passwd"}))),
      target, "it is a symbolic link, not a regular file");
  expect_refused_by_both(
      write("hardlink-root.tar.zst", archive_of(replaced("sealift.json", {"sealift.json", "", AE_IFREG, "index.json"}))),
      target, "it is a hard link, not a regular file");

  // A blob whose size disagrees with its descriptor: refused by size before it is hashed.
  fs::path longer = scratch("longer.tar.zst");
  testenv::rewrite_bundle(b.path, longer, {{layer, entry_text(b.path, layer) + "x"}});
  expect_refused_by_both(longer, target, "its descriptor says");

  // An image index naming a platform manifest the bundle does not carry.
  const std::string platform_manifest = *kinds["image manifest"].begin();
  fs::path missing = scratch("missing-manifest.tar.zst");
  testenv::rewrite_bundle(b.path, missing, {{platform_manifest, std::nullopt}});
  expect_refused_by_both(missing, target, "(no entry " + platform_manifest + ")");

  // A zip bomb: the frame holding the largest layer declares 256 MiB of zeros; the seek table, the
  // layer's size. Refused from the frame header, before anything is inflated.
  std::string largest = layer;
  {
    bundle::ArchiveReader reader(b.path);
    for (const auto& name : kinds["image layer"])
      if (reader.find(name)->size > reader.find(largest)->size) largest = name;
  }
  expect_refused_by_both(write("bomb.tar.zst", with_bomb_frame(b.path, largest, 256u << 20)), target,
                         "declares 268435456 decompressed bytes but the seek table says");

  // Signed by another key: a well-formed signature, by a key nobody passed with --key.
  fs::path stranger = scratch("stranger.tar.zst");
  testenv::rewrite_bundle(
      b.path, stranger,
      {{"sealift.json.sig", signed_with(key_of(factory().other_key("stranger")), entry_text(b.path, "sealift.json"))}});
  expect_refused_by_both(stranger, target, "sealift.json.sig: the signature of sealift.json does not verify");

  target.expect_untouched(b);
}

// Bytes of the tar stream that no signature or digest covers, in a real bundle: a member hidden in
// the end-of-archive marker (tar would extract it over a blob), non-zero padding after an entry, a
// header with another mode. Each is refused by verify and push, naming the offset; nothing lands.
TEST(HostileBundle, BytesThatNoSignatureCoversAreRefusedBeforeAnyTag) {
  const auto& b = full_bundle();
  UntouchedTarget target;
  const auto items = items_of(b.path);
  auto kinds = entries_by_kind(b.path);
  const std::string layer = first_layer(b.path, "docker.io/library/postgres:16.4");
  const std::string package = *kinds["chart package"].begin();
  auto write = [](const std::string& name, const bundle::testing::CraftedTar& tar) {
    fs::path p = scratch(name);
    util::write_file_atomic(p, bundle::testing::frame_archive(tar.bytes, bundle::testing::toc_frame(bundle::encode_toc(tar.toc))));
    return p;
  };
  auto entry_of = [](const bundle::testing::CraftedTar& tar, const std::string& name) {
    for (const auto& e : tar.toc.entries)
      if (e.name == name) return e;
    ADD_FAILURE() << "no entry " << name;
    return bundle::TocEntry{};
  };

  std::vector<TarItem> hidden = items;
  hidden.emplace_back(layer, "", AE_IFLNK, "/etc/shadow");
  auto tail = bundle::testing::with_member_in_the_end_marker(hidden);
  expect_refused_by_both(write("tail.tar.zst", tail), target,
                         fmt::format("a non-zero byte at offset {} of the tar stream, in the end-of-archive marker",
                                     tail.toc.entries.back().end()));

  auto padded = bundle::testing::craft_tar(items);
  const bundle::TocEntry root = entry_of(padded, "sealift.json");
  ASSERT_NE(root.size % 512, 0u);
  padded.bytes[root.data_offset + root.size] = '\n';
  expect_refused_by_both(write("padding.tar.zst", padded), target,
                         fmt::format("a non-zero byte at offset {} of the tar stream, in the padding after 'sealift.json'",
                                     root.data_offset + root.size));

  auto moded = bundle::testing::craft_tar(items);
  const bundle::TocEntry chart = entry_of(moded, package);
  bundle::testing::set_ustar_field(moded.bytes, chart.header_offset, bundle::testing::kUstarMode, "0004755");
  expect_refused_by_both(write("mode.tar.zst", moded), target,
                         fmt::format("the tar header at offset {} disagrees with the table of contents for '{}': its "
                                     "mode is 4755, not 0644",
                                     chart.header_offset, package));

  target.expect_untouched(b);
}

// An attacker holding release 1 (validly signed) and release 2 mixes them: the root of trust is
// sealift.json, which pins index.json by digest and size; index.json pins every manifest, which pin
// every blob. So an old signed root cannot vouch for newer content, nor a newer root for old.
TEST(HostileBundle, AReplayedOlderSignedRootDoesNotVouchForNewerContent) {
  testenv::BundleSpec one;
  one.images = {"redis", "backend"};
  auto r1 = factory().build(one, scratch("r1.tar.zst"));
  testenv::BundleSpec two = one;
  two.release = 2;
  two.chart_version = "1.1.0";
  auto r2 = factory().build(two, scratch("r2.tar.zst"));
  ASSERT_NE(entry_text(r1.path, "index.json"), entry_text(r2.path, "index.json"));
  UntouchedTarget target;

  // Release 1's sealift.json and its valid signature, release 2's TOC, index.json and blobs.
  fs::path replayed = scratch("replayed.tar.zst");
  testenv::rewrite_bundle(r2.path, replayed,
                          {{"sealift.json", entry_text(r1.path, "sealift.json")},
                           {"sealift.json.sig", entry_text(r1.path, "sealift.json.sig")}});
  expect_refused_by_both(replayed, target, "entry index.json has digest " + root_of(r2.path).index.str());

  // The same with release 1's index.json too: the index then names release 1's backend and
  // signature manifests, which release 2's archive does not carry.
  fs::path with_index = scratch("replayed-index.tar.zst");
  testenv::rewrite_bundle(r2.path, with_index,
                          {{"sealift.json", entry_text(r1.path, "sealift.json")},
                           {"sealift.json.sig", entry_text(r1.path, "sealift.json.sig")},
                           {"index.json", entry_text(r1.path, "index.json")}});
  expect_refused_by_both(with_index, target, "is missing (no entry blobs/sha256/");

  // Release 1's entire signed content with release 2's chart package added: still release 1, and
  // the extra entry is refused.
  fs::path smuggled = scratch("smuggled.tar.zst");
  const std::string package2 = bundle::blob_path(root_of(r2.path).chart.package);
  testenv::rewrite_bundle(r1.path, smuggled, {{package2, entry_text(r2.path, package2)}});
  expect_refused_by_both(smuggled, target, "unexpected entry " + package2);

  // Release 1 whole and untouched verifies: presenting it for an upgrade is a downgrade, which
  // `sealift-install upgrade` refuses (tests/install/upgrade_failure_test.cc).
  RunResult old = install({"verify", r1.path.string(), "--key", factory().public_key().string()});
  EXPECT_EQ(old.exit_code, 0) << said(old);
  target.expect_untouched(r1);
}

// One image's signatures rewritten in a bundle whose sealift.json is then signed again with the
// vendor's own key: what a broken or subverted build pipeline could ship. The outer signature is
// good, so only the checks of each signature form stand between such a bundle and the target.
class ResignedBundle {
 public:
  explicit ResignedBundle(const fs::path& from) : from_(from), root_(root_of(from)) {
    index_ = nlohmann::ordered_json::parse(entry_text(from, "index.json"));
  }
  const bundle::RootImage& image(size_t i) const { return root_.images.at(i); }
  oci::Descriptor subject(size_t i) const {
    for (const auto& m : index_["manifests"])
      if (m["annotations"]["dev.sealift.kind"] == "image" && m["annotations"]["org.opencontainers.image.ref.name"] == image(i).source)
        return oci::Descriptor::from_json(m, "index.json");
    throw std::runtime_error("no image entry");
  }
  std::string name(size_t i) const { return ref::Reference::parse(image(i).source).name(); }

  // Image i's Sigstore bundle referrer becomes `manifest` over `bundle_json`.
  void set_referrer(size_t i, const std::string& manifest, const std::string& bundle_json) {
    oci::Manifest m = oci::Manifest::parse(manifest, oci::media::kOciManifest);
    replace_entry("referrer", name(i) + "@" + image(i).referrer.str(), m, name(i) + "@" + m.digest().str());
    changes_[bundle::blob_path(m.digest())] = manifest;
    changes_[bundle::blob_path(m.layers().at(0).digest)] = bundle_json;
    root_.images.at(i).referrer = m.digest();
  }
  // Image i's first SBOM attestation referrer becomes `manifest` over `bundle_json`.
  void set_sbom(size_t i, const std::string& manifest, const std::string& bundle_json) {
    oci::Manifest m = oci::Manifest::parse(manifest, oci::media::kOciManifest);
    replace_entry("referrer", name(i) + "@" + image(i).sboms.at(0).str(), m, name(i) + "@" + m.digest().str());
    changes_[bundle::blob_path(m.digest())] = manifest;
    changes_[bundle::blob_path(m.layers().at(0).digest)] = bundle_json;
    root_.images.at(i).sboms.at(0) = m.digest();
  }
  // Image i's .sig manifest becomes one signature by `key`, then one by `key` over each of
  // `others` (payloads that claim other images).
  void set_legacy(size_t i, const sign::PrivateKey& key, const std::vector<oci::Digest>& others = {}) {
    // The old manifest's blobs go (those the new one shares are put back below): an entry nothing
    // refers to is refused.
    const std::string old_path = bundle::blob_path(image(i).signature);
    sign::SignatureManifest old = sign::SignatureManifest::parse(entry_text(from_, old_path));
    changes_[old_path] = std::nullopt;
    changes_[bundle::blob_path(oci::Manifest::parse(entry_text(from_, old_path), oci::media::kOciManifest).config().digest)] =
        std::nullopt;
    for (const auto& layer : old.layers()) changes_[bundle::blob_path(layer.digest)] = std::nullopt;
    sign::ImageSignature sig = sign::sign_image(key, name(i), image(i).digest);
    sign::SignatureManifest sm;
    sm.add(sig, key.public_key());
    for (const auto& other : others) {
      sign::ImageSignature o = sign::sign_image(key, name(i), other);
      sm.add(o, key.public_key());
      changes_[bundle::blob_path(o.layer.digest)] = o.payload;
    }
    oci::Manifest m = oci::Manifest::parse(sm.manifest(), oci::media::kOciManifest);
    std::string ref = name(i) + ":" + image(i).digest.tag_form() + ".sig";
    replace_entry("signature", ref, m, ref);
    changes_[bundle::blob_path(m.digest())] = m.bytes();
    changes_[bundle::blob_path(sig.layer.digest)] = sig.payload;
    changes_[bundle::blob_path(m.config().digest)] = sm.config();
    root_.images.at(i).signature = m.digest();
  }
  // A second image, `source`, made of image i's very objects (manifest, .sig, referrer) except that
  // its top manifest is listed under `media_type`; appended to the lock, sealift.json and
  // index.json.
  void add_alias(size_t i, const std::string& source, const std::string& media_type) {
    const std::string old_name = name(i);
    bundle::RootImage alias = image(i);
    alias.source = source;
    alias.media_type = media_type;
    const std::string new_name = ref::Reference::parse(source).name();
    lock::ImageLock lock = lock::ImageLock::parse(root_.lock);
    lock::LockedImage locked = *std::find_if(lock.images.begin(), lock.images.end(),
                                             [&](const lock::LockedImage& l) { return l.source.str() == image(i).source; });
    locked.name += "-alias";
    locked.source = ref::Reference::parse(source);
    locked.values_paths = {"alias.image"};
    lock.images.push_back(locked);
    root_.lock = lock.to_yaml();
    nlohmann::ordered_json added = nlohmann::ordered_json::array();
    for (const auto& e : index_["manifests"]) {
      std::string ref = e["annotations"]["org.opencontainers.image.ref.name"];
      if (ref != image(i).source && ref.rfind(old_name + ":sha256-", 0) != 0 && ref.rfind(old_name + "@", 0) != 0) continue;
      nlohmann::ordered_json copy = e;
      if (ref == image(i).source) {
        copy["annotations"]["org.opencontainers.image.ref.name"] = source;
        copy["mediaType"] = media_type;
      } else {
        copy["annotations"]["org.opencontainers.image.ref.name"] = new_name + ref.substr(old_name.size());
      }
      added.push_back(copy);
    }
    for (auto& e : added) index_["manifests"].push_back(e);
    root_.images.push_back(alias);
  }

  fs::path write(const std::string& name) {
    std::string index = index_.dump();
    root_.index = oci::Digest::of(index);
    root_.index_size = static_cast<int64_t>(index.size());
    std::string root = root_.serialize();
    changes_["index.json"] = index;
    changes_["sealift.json"] = root;
    changes_["sealift.json.sig"] = signed_with(key_of(factory().public_key()), root);
    fs::path out = scratch(name);
    testenv::rewrite_bundle(from_, out, changes_);
    return out;
  }

 private:
  void replace_entry(const std::string& kind, const std::string& ref, const oci::Manifest& m, const std::string& new_ref) {
    for (auto& e : index_["manifests"])
      if (e["annotations"]["dev.sealift.kind"] == kind && e["annotations"]["org.opencontainers.image.ref.name"] == ref) {
        e["digest"] = m.digest().str();
        e["size"] = m.size();
        e["annotations"]["org.opencontainers.image.ref.name"] = new_ref;
        return;
      }
    throw std::runtime_error("no " + kind + " entry " + ref);
  }
  fs::path from_;
  bundle::Root root_;
  nlohmann::ordered_json index_;
  std::map<std::string, std::optional<std::string>> changes_;
};

// The cosign v3 form lies while the .sig form tells the truth, or the other way round: refused by
// verify and push, naming what is wrong, before anything lands. A bundle needs both forms right.
TEST(HostileBundle, EitherSignatureFormLyingIsRefusedBeforeAnyTag) {
  testenv::BundleSpec spec;
  spec.images = {"redis", "backend"};
  auto b = factory().build(spec, scratch("two-forms.tar.zst"));
  UntouchedTarget target;
  const sign::PrivateKey vendor = key_of(factory().public_key());
  const sign::PrivateKey stranger = key_of(factory().other_key("stranger"));

  // The unchanged rewrite verifies: the harness itself is faithful.
  {
    ResignedBundle same(b.path);
    ASSERT_EQ(verify_error(same.write("resigned-unchanged.tar.zst")), "");
  }
  // A forged Sigstore bundle: well-formed, over the right image, signed by a key nobody trusts.
  {
    ResignedBundle r(b.path);
    sign::SigstoreSignature forged = sign::sign_sigstore(stranger, r.subject(0), "2026-12-04T00:00:00Z");
    r.set_referrer(0, forged.manifest, forged.bundle);
    expect_refused_by_both(r.write("forged-bundle.tar.zst"), target, "no signature in its DSSE envelope was made by the trusted key");
  }
  // A referrer whose subject names another digest (the other image's), signed by the vendor.
  {
    ResignedBundle r(b.path);
    sign::SigstoreSignature other = sign::sign_sigstore(vendor, r.subject(1), "2026-12-04T00:00:00Z");
    r.set_referrer(0, other.manifest, other.bundle);
    expect_refused_by_both(r.write("other-subject.tar.zst"), target, "its subject is " + r.subject(1).digest.str());
  }
  // The two forms disagree: the referrer names image 0, the vendor-signed statement inside it
  // names image 1.
  {
    ResignedBundle r(b.path);
    sign::SigstoreSignature mine = sign::sign_sigstore(vendor, r.subject(0), "2026-12-04T00:00:00Z");
    sign::SigstoreSignature theirs = sign::sign_sigstore(vendor, r.subject(1), "2026-12-04T00:00:00Z");
    auto m = nlohmann::ordered_json::parse(mine.manifest);
    m["layers"][0] = oci::Descriptor{std::string(sign::kSigstoreBundleMediaType), oci::Digest::of(theirs.bundle),
                                     static_cast<int64_t>(theirs.bundle.size()), {}, {}, {}, {}}
                         .to_json();
    r.set_referrer(0, m.dump(), theirs.bundle);
    expect_refused_by_both(r.write("disagree.tar.zst"), target,
                           "its signed statement does not name " + r.image(0).digest.str());
  }
  // The .sig form forged, the Sigstore bundle intact.
  {
    ResignedBundle r(b.path);
    r.set_legacy(1, stranger);
    expect_refused_by_both(r.write("forged-sig.tar.zst"), target, r.image(1).source);
  }
  target.expect_untouched(b);
}

// First review, open item 11: the verifier parsed each manifest once, under the media type of the
// first descriptor naming it, and took any later descriptor of the same digest whatever type it
// gave, so one document could be checked as an OCI index and pushed as a Docker manifest list.
TEST(HostileBundle, OneManifestUnderTwoMediaTypesIsRefused) {
  testenv::BundleSpec spec;
  spec.images = {"redis", "backend"};
  auto b = factory().build(spec, scratch("two-types.tar.zst"));
  ResignedBundle r(b.path);
  const std::string type = r.image(0).media_type;
  const std::string alias = r.name(0) + "-alias:" + ref::Reference::parse(r.image(0).source).tag;
  const std::string other(type == oci::media::kOciIndex          ? oci::media::kDockerManifestList
                          : type == oci::media::kOciManifest    ? oci::media::kDockerManifest
                          : type == oci::media::kDockerManifest ? oci::media::kOciManifest
                                                                : oci::media::kOciIndex);
  // The harness is faithful: the same alias under the same type verifies.
  {
    ResignedBundle same(b.path);
    same.add_alias(0, alias, type);
    ASSERT_EQ(verify_error(same.write("alias-same-type.tar.zst")), "");
  }
  r.add_alias(0, alias, other);
  const std::string error = verify_error(r.write("alias-other-type.tar.zst"));
  EXPECT_NE(error.find(fmt::format("manifest {} of {} is listed as {}, and elsewhere in the bundle as {}",
                                   r.image(0).digest.str(), alias, other, type)),
            std::string::npos)
      << error;
}

// First review, open item 10: a `.sig` layer the vendor's key signed for another image (replayed
// from that image's `.sig`) passes verify, which needs one layer that claims the image and skips
// the rest as cosign does. When the push merges the bundle's signatures into the target's, that
// layer must not join them.
TEST(HostileBundle, AVendorSignatureForAnotherImageDoesNotJoinTheTargets) {
  testenv::BundleSpec spec;
  spec.images = {"redis", "backend"};
  auto b = factory().build(spec, scratch("replayed.tar.zst"));
  const sign::PrivateKey vendor = key_of(factory().public_key());
  Target target;
  RunResult first = target.push(b.path, {"--create-project"});
  ASSERT_EQ(first.exit_code, 0) << said(first);

  ResignedBundle r(b.path);
  r.set_legacy(0, vendor, {r.image(1).digest});
  const fs::path replayed = r.write("replayed-sig.tar.zst");
  ASSERT_EQ(verify_error(replayed), "");
  RunResult again = target.push(replayed);
  ASSERT_EQ(again.exit_code, 0) << said(again);

  const oci::Digest other_payload = sign::sign_image(vendor, r.name(0), r.image(1).digest).layer.digest;
  const std::string repository = "ai-saas/" + ref::Reference::parse(r.image(0).source).repository;
  sign::SignatureManifest at_target = sign::SignatureManifest::parse(
      target.client().get_manifest(repository, r.image(0).digest.tag_form() + ".sig").bytes());
  ASSERT_FALSE(at_target.layers().empty());
  for (const auto& layer : at_target.layers())
    EXPECT_NE(layer.digest, other_payload) << "the signature of " << r.image(1).source << " joined " << r.image(0).source;
}

// An SBOM that lies about its image, its signer or what it is: refused by verify and push, naming
// what is wrong, before anything lands (sealift.json re-signed by the vendor's own key each time,
// so only the SBOM checks can tell).
TEST(HostileBundle, AnSbomThatLiesIsRefusedBeforeAnyTag) {
  testenv::BundleSpec spec;
  spec.images = {"redis", "backend"};
  spec.build_args = {"--sbom", "syft", "--syft", testenv::peer("syft")};
  auto b = factory().build(spec, scratch("sboms.tar.zst"));
  UntouchedTarget target;
  const sign::PrivateKey vendor = key_of(factory().public_key());
  const sign::PrivateKey stranger = key_of(factory().other_key("stranger"));
  const std::string spdx = R"({"spdxVersion":"SPDX-2.3","packages":[]})";
  constexpr const char* kSpdx = "https://spdx.dev/Document";
  {
    ResignedBundle same(b.path);
    ASSERT_EQ(verify_error(same.write("sboms-unchanged.tar.zst")), "");
  }
  // Its referrer's subject is the other image (a vendor-signed SBOM of it).
  {
    ResignedBundle r(b.path);
    sign::SigstoreSignature other = sign::sign_attestation(vendor, r.subject(1), "2026-12-04T00:00:00Z", kSpdx, spdx);
    r.set_sbom(0, other.manifest, other.bundle);
    expect_refused_by_both(r.write("sbom-other-subject.tar.zst"), target, "its subject is " + r.subject(1).digest.str());
  }
  // The referrer names image 0, the signed statement inside it image 1.
  {
    ResignedBundle r(b.path);
    sign::SigstoreSignature mine = sign::sign_attestation(vendor, r.subject(0), "2026-12-04T00:00:00Z", kSpdx, spdx);
    sign::SigstoreSignature theirs = sign::sign_attestation(vendor, r.subject(1), "2026-12-04T00:00:00Z", kSpdx, spdx);
    auto m = nlohmann::ordered_json::parse(mine.manifest);
    m["layers"][0] = oci::Descriptor{std::string(sign::kSigstoreBundleMediaType), oci::Digest::of(theirs.bundle),
                                     static_cast<int64_t>(theirs.bundle.size()), {}, {}, {}, {}}
                         .to_json();
    r.set_sbom(0, m.dump(), theirs.bundle);
    expect_refused_by_both(r.write("sbom-disagree.tar.zst"), target,
                           "its signed statement does not name " + r.image(0).digest.str());
  }
  // Signed by a key nobody trusts.
  {
    ResignedBundle r(b.path);
    sign::SigstoreSignature forged = sign::sign_attestation(stranger, r.subject(0), "2026-12-04T00:00:00Z", kSpdx, spdx);
    r.set_sbom(0, forged.manifest, forged.bundle);
    expect_refused_by_both(r.write("sbom-stranger.tar.zst"), target, "no signature in its DSSE envelope was made by the trusted key");
  }
  // Not an SBOM: a provenance attestation (or a signature) in an SBOM's place.
  {
    ResignedBundle r(b.path);
    sign::SigstoreSignature other = sign::sign_attestation(vendor, r.subject(0), "2026-12-04T00:00:00Z",
                                                           "https://slsa.dev/provenance/v1", R"({"buildDefinition":{}})");
    r.set_sbom(0, other.manifest, other.bundle);
    expect_refused_by_both(r.write("sbom-provenance.tar.zst"), target,
                           "predicate type \"https://slsa.dev/provenance/v1\" is not https://spdx.dev/Document");
  }
  target.expect_untouched(b);
}

}  // namespace
}  // namespace sealift::install::testing
