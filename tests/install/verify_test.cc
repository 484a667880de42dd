// `sealift-install verify` on bundles made by the real `sealift-bundle build`: good ones pass;
// altered, unsigned or wrongly signed ones are refused, naming what is wrong.
#include "install/verify.h"

#include "bundle/archive_fixtures.h"
#include "harness.h"
#include "sign/blob.h"
#include "sign/key.h"
#include "sign/password.h"
#include "sign/sigmanifest.h"
#include "util/error.h"

namespace sealift::install::testing {
namespace {

RunResult verify(const fs::path& bundle, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> args = {"verify", bundle.string()};
  args.insert(args.end(), extra.begin(), extra.end());
  return install(args);
}

RunResult verify_with_key(const fs::path& bundle) { return verify(bundle, {"--key", factory().public_key().string()}); }

void expect_refused(const RunResult& r, const std::string& names, int exit_code = 4) {
  EXPECT_EQ(r.exit_code, exit_code) << said(r);
  EXPECT_NE(r.err.find(names), std::string::npos) << "the error should name " << names << "\n" << said(r);
  EXPECT_EQ(r.out, "") << "nothing may look like success";
}

fs::path scratch(const std::string& name) {
  static testenv::TempDir dir("sealift-verify-test");
  return dir / name;
}

// sealift.json signed again with the vendor's own key: what a vendor-side mistake (or a stolen
// key) would produce. Only the checks below the signature can catch what such a bundle lies about.
std::string signed_by_vendor(const std::string& root_bytes) {
  sign::Secret password = sign::Secret::copy_of(factory().key_password());
  sign::PrivateKey key = sign::PrivateKey::from_file(factory().private_key(), password);
  io::MemorySource source(root_bytes);
  return sign::sign_blob(key, source);
}

TEST(Verify, AGoodBundlePassesEveryCheck) {
  const auto& b = full_bundle();
  RunResult r = verify(b.path, {"--key", factory().public_key().string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << said(r);
  auto j = nlohmann::json::parse(r.out);
  EXPECT_TRUE(j["verified"].get<bool>());
  EXPECT_TRUE(j["signatureVerified"].get<bool>());
  EXPECT_EQ(j["signer"].get<std::string>(), sign::PublicKey::from_file(factory().public_key()).fingerprint());
  EXPECT_EQ(j["images"].size(), b.lock.images.size());
  EXPECT_TRUE(j["warnings"].empty());

  // Every entry was read, and every blob hashed.
  bundle::ArchiveReader reader(b.path);
  uint64_t blob_bytes = 0;
  for (const auto& e : reader.entries())
    if (bundle::blob_digest(e.name)) blob_bytes += e.size;
  EXPECT_EQ(j["entries"].get<uint64_t>(), reader.entries().size());
  EXPECT_EQ(j["bytes"].get<uint64_t>(), blob_bytes);

  // The library's view: one object per index.json entry, each image and the chart with its
  // signature in both forms (.sig manifest and Sigstore bundle referrer).
  util::Progress quiet(util::Progress::Mode::Quiet);
  VerifiedBundle v = verify_bundle(reader, sign::TrustedKeys::from_files({factory().public_key()}), {}, quiet);
  EXPECT_EQ(v.objects.size(), 3 * b.lock.images.size() + 3);
  EXPECT_TRUE(v.omitted.empty());
  EXPECT_EQ(v.carried.size(), reader.entries().size() - 4);
  for (const auto& image : b.lock.images) {
    const BundleObject& o = v.object(bundle::EntryKind::Image, image.source.str());
    EXPECT_EQ(o.entry.descriptor.digest, image.digest);
    EXPECT_EQ(o.manifests.size(), image.platforms.size() + 1) << image.name;
  }
}

TEST(Verify, AnyAlteredByteIsRefusedNamingTheEntry) {
  const auto& b = full_bundle();
  const std::string layer = first_layer(b.path, "docker.io/library/postgres:16.4");
  bundle::Root root = root_of(b.path);
  const std::string index_manifest = bundle::blob_path(root.images.front().digest);
  const std::string chart_package = bundle::blob_path(root.chart.package);

  struct Case {
    std::string entry;
    size_t at;          // byte to flip
    std::string named;  // what the error must name
  };
  const std::vector<Case> cases = {
      {layer, 100, layer},
      {index_manifest, 40, index_manifest},
      {chart_package, 20, chart_package},
      {"sealift.json", 30, "sealift.json"},
      {"sealift.json.sig", 20, "sealift.json.sig"},
      {"index.json", 50, "index.json"},
      {"oci-layout", 5, "oci-layout"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.entry);
    fs::path tampered = scratch("tampered.tar.zst");
    testenv::rewrite_bundle(b.path, tampered, {{c.entry, flipped(entry_text(b.path, c.entry), c.at)}});
    expect_refused(verify_with_key(tampered), c.named);
  }
}

TEST(Verify, DamageToTheCompressedFileIsRefused) {
  const auto& b = full_bundle();
  for (const std::string& entry : {first_layer(b.path, "docker.io/library/redis:7.4"), std::string("sealift.json")}) {
    SCOPED_TRACE(entry);
    fs::path damaged = scratch("damaged.tar.zst");
    testenv::flip_byte_in_entry(b.path, damaged, entry);
    RunResult r = verify_with_key(damaged);
    EXPECT_EQ(r.exit_code, 4) << said(r);
    EXPECT_NE(r.err.find("is damaged"), std::string::npos) << said(r);
  }
}

TEST(Verify, SignaturesAreRequiredAndChecked) {
  const auto& b = full_bundle();
  const fs::path other = factory().other_key("stranger");

  // A key that did not sign the bundle; the right one among several is enough.
  expect_refused(verify(b.path, {"--key", other.string()}), "sealift.json.sig");
  RunResult both = verify(b.path, {"--key", other.string(), "--key", factory().public_key().string()});
  EXPECT_EQ(both.exit_code, 0) << said(both);

  // No key at all is a usage error, not a pass.
  expect_refused(verify(b.path), "--key", 2);

  // Unsigned: refused, unless explicitly accepted, and then loudly.
  fs::path unsigned_bundle = scratch("unsigned.tar.zst");
  testenv::rewrite_bundle(b.path, unsigned_bundle, {{"sealift.json.sig", std::nullopt}});
  expect_refused(verify_with_key(unsigned_bundle), "unsigned");
  RunResult insecure = verify(unsigned_bundle, {"--insecure-skip-signature"});
  EXPECT_EQ(insecure.exit_code, 0) << said(insecure);
  EXPECT_NE(insecure.err.find("WARNING"), std::string::npos) << said(insecure);
  EXPECT_NE(insecure.out.find("NOT VERIFIED"), std::string::npos) << said(insecure);

  // Wrongly signed, accepted only with the flag, which still warns about what failed.
  RunResult wrong = verify(b.path, {"--key", other.string(), "--insecure-skip-signature"});
  EXPECT_EQ(wrong.exit_code, 0) << said(wrong);
  EXPECT_NE(wrong.err.find("WARNING"), std::string::npos);
  EXPECT_NE(wrong.err.find("sealift.json.sig"), std::string::npos) << said(wrong);

  // The flag never lets altered content through.
  fs::path tampered = scratch("tampered-unsigned.tar.zst");
  std::string layer = first_layer(b.path, "docker.io/library/postgres:16.4");
  testenv::rewrite_bundle(b.path, tampered, {{"sealift.json.sig", std::nullopt}, {layer, flipped(entry_text(b.path, layer), 7)}});
  expect_refused(verify(tampered, {"--insecure-skip-signature"}), layer);
}

TEST(Verify, EntriesNothingRefersToOrMissingBlobsAreRefused) {
  const auto& b = full_bundle();
  fs::path extra = scratch("extra.tar.zst");
  std::string smuggled = "not part of any image";
  std::string smuggled_name = bundle::blob_path(oci::Digest::of(smuggled));
  testenv::rewrite_bundle(b.path, extra, {{smuggled_name, smuggled}});
  expect_refused(verify_with_key(extra), "unexpected entry " + smuggled_name);

  fs::path missing = scratch("missing.tar.zst");
  std::string layer = first_layer(b.path, "docker.io/fluent/fluent-bit:3.1");
  testenv::rewrite_bundle(b.path, missing, {{layer, std::nullopt}});
  expect_refused(verify_with_key(missing), std::string(layer.substr(13)) + " (docker.io/fluent/fluent-bit:3.1) is missing");
}

TEST(Verify, ASignedRootMustAgreeWithIndexAndLock) {
  const auto& b = full_bundle();
  bundle::Root root = root_of(b.path);
  auto resigned = [&](const bundle::Root& changed, std::map<std::string, std::optional<std::string>> more = {}) {
    std::string bytes = changed.serialize();
    more["sealift.json"] = bytes;
    more["sealift.json.sig"] = signed_by_vendor(bytes);
    fs::path out = scratch("resigned.tar.zst");
    testenv::rewrite_bundle(b.path, out, more);
    return out;
  };

  // An image whose digest in sealift.json disagrees with index.json.
  bundle::Root wrong_digest = root;
  wrong_digest.images[1].digest = oci::Digest::of("elsewhere");
  expect_refused(verify_with_key(resigned(wrong_digest)), "index.json gives image " + root.images[1].source);

  // index.json naming an object that sealift.json does not list.
  auto entries = bundle::parse_index_json(entry_text(b.path, "index.json"));
  entries.push_back(entries.front());
  entries.back().reference = "docker.io/library/smuggled:1";
  std::string index = bundle::index_json(entries);
  bundle::Root more_objects = root;
  more_objects.index = oci::Digest::of(index);
  more_objects.index_size = static_cast<int64_t>(index.size());
  expect_refused(verify_with_key(resigned(more_objects, {{"index.json", index}})),
                 "index.json names image docker.io/library/smuggled:1, which sealift.json does not list");

  // A lock pinning another upstream digest than the one the bundle records.
  bundle::Root other_upstream = root;
  other_upstream.images[0].upstream_digest = oci::Digest::of("another build");
  expect_refused(verify_with_key(resigned(other_upstream)), "records upstream digest");

  // The same document re-signed unchanged still verifies: the checks above are about content.
  EXPECT_EQ(verify_with_key(resigned(root)).exit_code, 0);
}

TEST(Verify, ImageSignaturesInsideTheBundleAreChecked) {
  const auto& b = full_bundle();
  bundle::Root root = root_of(b.path);
  const bundle::RootImage& image = root.images[0];
  ref::Reference source = ref::Reference::parse(image.source);

  // The image's .sig manifest swapped for one made with a key nobody trusts, everything above it
  // (index.json, sealift.json and its signature) made consistent again by the vendor's key.
  sign::Secret password = sign::Secret::copy_of(factory().key_password());
  sign::PrivateKey stranger =
      sign::PrivateKey::from_file(factory().other_key("stranger").parent_path() / "cosign.key", password);
  sign::ImageSignature sig = sign::sign_image(stranger, source.name(), image.digest);
  sign::SignatureManifest sm;
  sm.add(sig, stranger.public_key());
  oci::Manifest manifest = oci::Manifest::parse(sm.manifest(), oci::media::kOciManifest);

  std::map<std::string, std::optional<std::string>> changes;
  oci::Manifest old = oci::Manifest::parse(entry_text(b.path, bundle::blob_path(image.signature)));
  changes[bundle::blob_path(image.signature)] = std::nullopt;
  for (const auto& blob : old.children()) changes[bundle::blob_path(blob.digest)] = std::nullopt;
  changes[bundle::blob_path(manifest.digest())] = manifest.bytes();
  changes[bundle::blob_path(oci::Digest::of(sm.config()))] = sm.config();
  changes[bundle::blob_path(sig.layer.digest)] = sig.payload;

  auto entries = bundle::parse_index_json(entry_text(b.path, "index.json"));
  for (auto& e : entries)
    if (e.kind == bundle::EntryKind::Signature && e.descriptor.digest == image.signature) {
      e.descriptor.digest = manifest.digest();
      e.descriptor.size = manifest.size();
      e.descriptor.annotations.clear();
    }
  std::string index = bundle::index_json(entries);
  root.index = oci::Digest::of(index);
  root.index_size = static_cast<int64_t>(index.size());
  root.images[0].signature = manifest.digest();
  std::string root_bytes = root.serialize();
  changes["index.json"] = index;
  changes["sealift.json"] = root_bytes;
  changes["sealift.json.sig"] = signed_by_vendor(root_bytes);
  fs::path swapped = scratch("swapped-signature.tar.zst");
  testenv::rewrite_bundle(b.path, swapped, changes);

  expect_refused(verify_with_key(swapped), "no valid signature for " + image.source + " by a trusted key");
  // Trusting the stranger too makes the image signature pass: the check is about keys.
  RunResult both = verify(swapped, {"--key", factory().public_key().string(), "--key", factory().other_key("stranger").string()});
  EXPECT_EQ(both.exit_code, 0) << said(both);
}

// The tar inside a well-framed archive, written by libarchive as an attacker would: a layer that
// is a symbolic link, an entry whose name climbs out of the directory.
TEST(Verify, LinksAndUnsafeNamesInTheTarAreRefused) {
  const auto& b = full_bundle();
  bundle::ArchiveReader reader(b.path);
  const std::string layer = first_layer(b.path, "docker.io/library/redis:7.4");
  auto crafted = [&](const std::string& replaced, const bundle::testing::TarItem& with) {
    std::vector<bundle::testing::TarItem> items;
    for (const auto& e : reader.entries())
      items.push_back(e.name == replaced ? with : bundle::testing::TarItem(e.name, reader.read_small(e.name, 1 << 30)));
    auto tar = bundle::testing::craft_tar(items);
    fs::path out = scratch("crafted.tar.zst");
    util::write_file_atomic(out, bundle::testing::frame_archive(tar.bytes, bundle::testing::toc_frame(bundle::encode_toc(tar.toc))));
    return out;
  };
  // Refused before its target matters: a link has no content, so it cannot be the layer.
  expect_refused(verify_with_key(crafted(layer, {layer, "", AE_IFLNK, "/etc/passwd"})), layer);

  RunResult escape = verify_with_key(crafted(layer, {"blobs/../../etc/cron.d/x", "* * * * * root true"}));
  EXPECT_EQ(escape.exit_code, 3) << said(escape);
  EXPECT_NE(escape.err.find("blobs/../../etc/cron.d/x"), std::string::npos) << said(escape);
}

TEST(Verify, SplitBundlesVerifyFromTheirParts) {
  testenv::BundleSpec spec;
  spec.images = {"redis", "frontend"};
  spec.split_size = "256K";
  auto b = factory().build(spec, scratch("split.tar.zst"));
  ASSERT_GT(b.files.size(), 2u);
  for (const fs::path& name : {b.path, b.files.front()}) {
    RunResult r = verify_with_key(name);
    EXPECT_EQ(r.exit_code, 0) << name << said(r);
  }
}

TEST(Verify, ADeltaBundleVerifiesWithoutTheBlobsItLeavesOut) {
  const auto& [base, delta] = delta_pair();

  RunResult r = verify(delta.path, {"--key", factory().public_key().string(), "--json"});
  ASSERT_EQ(r.exit_code, 0) << said(r);
  auto j = nlohmann::json::parse(r.out);
  bundle::Root root = root_of(delta.path);
  ASSERT_TRUE(root.base.has_value());
  EXPECT_EQ(j["omittedBlobs"].get<size_t>(), root.omitted_blobs.size());
  EXPECT_GT(root.omitted_blobs.size(), 3u);
  EXPECT_EQ(j["base"]["name"], "sealift-test-app");
}

}  // namespace
}  // namespace sealift::install::testing
