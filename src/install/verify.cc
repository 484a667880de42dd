#include "install/verify.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "ref/reference.h"
#include "registry/transfer.h"
#include "sbom/syft.h"
#include "sign/blob.h"
#include "sign/sigmanifest.h"
#include "sign/sigstore_bundle.h"
#include "util/error.h"

namespace sealift::install {

namespace {

using bundle::EntryKind;

constexpr uint64_t kMaxSignatureSize = 64 << 10;
constexpr uint64_t kMaxDocumentSize = 16 << 20;
constexpr int kMaxIndexDepth = 8;
// An SBOM attestation holds the whole SBOM (base64): large images have SBOMs of tens of MB.
constexpr uint64_t kMaxAttestation = 64 << 20;
constexpr const char* kTamperedHint = "the bundle was altered or damaged on the way; do not use it, get a new copy from the vendor";

// Errors of the archive reader name the file and the frame; the user needs the entry.
template <class F>
auto about_entry(std::string_view name, F&& f) {
  try {
    return f();
  } catch (const Error& e) {
    if (std::string_view(e.what()).find(name) != std::string_view::npos) throw;
    throw Error(e.kind(), fmt::format("entry {}: {}", name, e.what()), e.hint());
  }
}

std::string read_entry(const bundle::ArchiveReader& reader, std::string_view name, uint64_t max_size = kMaxDocumentSize) {
  return about_entry(name, [&] { return reader.read_small(name, max_size); });
}

// Repository part of "name:tag" ("charts/x:1.0" -> "charts/x").
std::string without_tag(const std::string& reference) {
  size_t colon = reference.rfind(':');
  size_t slash = reference.rfind('/');
  if (colon == std::string::npos || (slash != std::string::npos && colon < slash)) return reference;
  return reference.substr(0, colon);
}

class Verifier {
 public:
  Verifier(const bundle::ArchiveReader& reader, const sign::TrustedKeys& keys, const VerifyOptions& options,
           util::Progress& progress)
      : reader_(reader), keys_(keys), options_(options), progress_(progress), name_(reader.file().name().string()) {}

  VerifiedBundle run() {
    check_layout_file();
    reader_.check_end_of_archive();
    check_root_signature();
    check_index();
    check_references();
    for (auto& object : out_.objects) walk(object, object.entry.descriptor, 0);
    check_chart_package();
    check_tool_binaries();
    check_signatures();
    check_blobs_present();
    check_no_unexpected_entries();
    hash_blobs();
    out_.entries_checked = reader_.entries().size();
    return std::move(out_);
  }

 private:
  [[noreturn]] void refuse(const std::string& problem) const {
    throw Error(ErrorKind::Integrity, fmt::format("{}: {}", name_, problem), kTamperedHint);
  }

  void check_layout_file() {
    if (!reader_.find(bundle::kOciLayoutFile)) refuse("it has no oci-layout entry: not a sealift bundle");
    if (read_entry(reader_, bundle::kOciLayoutFile, 4096) != bundle::kOciLayoutContent)
      refuse("entry oci-layout does not hold the OCI layout version 1.0.0");
  }

  void check_root_signature() {
    if (!reader_.find(bundle::kRootFile)) refuse("it has no sealift.json: not a sealift bundle");
    out_.root_bytes = read_entry(reader_, bundle::kRootFile);
    const bool has_signature = reader_.find(bundle::kRootSignatureFile) != nullptr;
    if (options_.insecure_skip_signature) {
      out_.warnings.push_back(
          "--insecure-skip-signature: the bundle's signature is NOT required; anyone could have made or altered this bundle");
      if (keys_.empty() || !has_signature) {
        out_.warnings.push_back(has_signature ? "sealift.json.sig was not checked: no --key given"
                                              : "the bundle is unsigned: it has no sealift.json.sig");
        return;
      }
    } else {
      if (keys_.empty())
        throw Error(ErrorKind::Usage, "no public key given to verify the bundle's signature",
                    "pass the vendor's public key with --key cosign.pub");
      if (!has_signature)
        throw Error(ErrorKind::Integrity, fmt::format("{}: the bundle is unsigned: it has no sealift.json.sig", name_),
                    "ask the vendor for a signed bundle");
    }
    std::string signature = read_entry(reader_, bundle::kRootSignatureFile, kMaxSignatureSize);
    try {
      io::MemorySource content(out_.root_bytes);
      const sign::PublicKey& key = sign::verify_blob(keys_, content, signature, "sealift.json");
      out_.signer = key.fingerprint();
      out_.signature_verified = true;
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::Usage) throw;
      std::string problem = fmt::format("{}: sealift.json.sig: {}", name_, e.what());
      if (std::string signer = claimed_signer(); !signer.empty())
        problem += fmt::format("; the bundle's Sigstore signatures name the key {} (their key hint, unverified)", signer);
      if (!options_.insecure_skip_signature)
        throw Error(ErrorKind::Integrity, problem,
                    "the bundle was altered, or signed with another key than the one given with --key");
      out_.warnings.push_back(problem);
    }
  }

  // The key the vendor's cosign v3 signature of the chart names in its hint, for the message of a
  // refusal: sealift.json.sig itself carries no hint (a cosign blob signature has none). Read
  // from a bundle that failed verification, so nothing here is trusted and any problem means
  // "unknown". Upstream referrers are the publishers' and never name the chart.
  std::string claimed_signer() const {
    try {
      const bundle::Root root = bundle::Root::parse(out_.root_bytes);
      for (const auto& entry : bundle::parse_index_json(read_entry(reader_, bundle::kIndexFile))) {
        if (entry.kind != bundle::EntryKind::Referrer) continue;
        oci::Manifest m = oci::Manifest::parse(read_entry(reader_, bundle::blob_path(entry.descriptor.digest), 1 << 20),
                                               entry.descriptor.media_type);
        if (!m.subject() || m.subject()->digest != root.chart.manifest) continue;
        if (m.layers().size() != 1 || m.layers()[0].media_type != sign::kSigstoreBundleMediaType) continue;
        std::string fp = sign::key_hint_fingerprint(read_entry(reader_, bundle::blob_path(m.layers()[0].digest), 1 << 20));
        if (!fp.empty()) return fp;
      }
    } catch (const std::exception&) {
    }
    return "";
  }

  void check_index() {
    out_.root = bundle::Root::parse(out_.root_bytes);
    const bundle::Root& root = out_.root;
    if (!reader_.find(bundle::kIndexFile)) refuse("it has no index.json");
    std::string index = read_entry(reader_, bundle::kIndexFile);
    oci::Digest got = oci::Digest::of(index);
    if (got != root.index || static_cast<int64_t>(index.size()) != root.index_size)
      refuse(fmt::format("entry index.json has digest {} and {} bytes; sealift.json says {} and {} bytes", got.str(),
                         index.size(), root.index.str(), root.index_size));
    for (auto& entry : bundle::parse_index_json(index)) out_.objects.push_back({std::move(entry), {}, {}});
    out_.lock = lock::ImageLock::parse(root.lock, "the images.lock inside sealift.json");
  }

  // sealift.json, index.json and the lock must describe the same objects, each exactly once.
  void check_references() {
    const bundle::Root& root = out_.root;
    std::map<std::pair<EntryKind, std::string>, size_t> by_reference;
    for (size_t i = 0; i < out_.objects.size(); ++i) {
      const auto& e = out_.objects[i].entry;
      if (!by_reference.emplace(std::make_pair(e.kind, e.reference), i).second)
        refuse(fmt::format("index.json names {} {} twice", bundle::kind_name(e.kind), e.reference));
    }
    std::vector<bool> listed(out_.objects.size(), false);
    auto need = [&](EntryKind kind, const std::string& reference, const oci::Digest& digest) -> const oci::Descriptor& {
      auto it = by_reference.find({kind, reference});
      if (it == by_reference.end())
        refuse(fmt::format("sealift.json lists {} {}, which index.json does not name", bundle::kind_name(kind), reference));
      const oci::Descriptor& d = out_.objects[it->second].entry.descriptor;
      if (d.digest != digest)
        refuse(fmt::format("index.json gives {} {} digest {}, sealift.json says {}", bundle::kind_name(kind), reference,
                           d.digest.str(), digest.str()));
      listed[it->second] = true;
      return d;
    };

    std::set<std::string> locked_seen;
    for (const auto& image : root.images) {
      const oci::Descriptor& d = need(EntryKind::Image, image.source, image.digest);
      if (d.media_type != image.media_type)
        refuse(fmt::format("index.json gives image {} media type {}, sealift.json says {}", image.source, d.media_type,
                           image.media_type));
      ref::Reference source = ref::Reference::parse(image.source);
      need(EntryKind::Signature, source.name() + ":" + image.digest.tag_form() + ".sig", image.signature);
      if (root.format_version >= 2) need(EntryKind::Referrer, source.name() + "@" + image.referrer.str(), image.referrer);
      for (const auto* list : {&image.upstream_signatures, &image.sboms, &image.upstream_attestations})
        for (const auto& u : *list) need(EntryKind::Referrer, source.name() + "@" + u.str(), u);
      auto locked = std::find_if(out_.lock.images.begin(), out_.lock.images.end(),
                                 [&](const lock::LockedImage& l) { return l.source.str() == image.source; });
      if (locked == out_.lock.images.end())
        refuse(fmt::format("sealift.json lists image {}, which its images.lock does not", image.source));
      if (locked->digest != image.upstream_digest)
        refuse(fmt::format("image {}: sealift.json records upstream digest {}, its images.lock {}", image.source,
                           image.upstream_digest.str(), locked->digest.str()));
      if (!locked_seen.insert(image.source).second) refuse(fmt::format("sealift.json lists image {} twice", image.source));
    }
    if (locked_seen.size() != out_.lock.images.size())
      refuse(fmt::format("sealift.json lists {} images, its images.lock {}", locked_seen.size(), out_.lock.images.size()));

    const bundle::RootChart& chart = root.chart;
    const oci::Descriptor& c = need(EntryKind::Chart, chart.reference, chart.manifest);
    if (c.size != chart.manifest_size)
      refuse(fmt::format("index.json gives chart {} size {}, sealift.json says {}", chart.reference, c.size,
                         chart.manifest_size));
    need(EntryKind::Signature, without_tag(chart.reference) + ":" + chart.manifest.tag_form() + ".sig", chart.signature);
    if (root.format_version >= 2)
      need(EntryKind::Referrer, without_tag(chart.reference) + "@" + chart.referrer.str(), chart.referrer);
    if (out_.lock.chart.digest != chart.package || out_.lock.chart.name != chart.name ||
        out_.lock.chart.version != chart.version)
      refuse(fmt::format("the chart in sealift.json ({} {}, package {}) is not the one its images.lock pins ({} {}, {})",
                         chart.name, chart.version, chart.package.str(), out_.lock.chart.name, out_.lock.chart.version,
                         out_.lock.chart.digest.str()));

    std::set<std::pair<std::string, std::string>> tools_seen;
    for (const auto& tool : root.tools) {
      const oci::Descriptor& d = need(EntryKind::Tool, tool.reference, tool.manifest);
      if (d.size != tool.manifest_size)
        refuse(fmt::format("index.json gives tool {} size {}, sealift.json says {}", tool.reference, d.size,
                           tool.manifest_size));
      if (d.media_type != oci::media::kOciManifest)
        refuse(fmt::format("index.json gives tool {} media type {}, not an OCI image manifest", tool.reference,
                           d.media_type));
      if (!tools_seen.insert({tool.name, tool.platform}).second)
        refuse(fmt::format("sealift.json lists tool {} for {} twice", tool.name, tool.platform));
    }

    for (size_t i = 0; i < out_.objects.size(); ++i)
      if (!listed[i])
        refuse(fmt::format("index.json names {} {}, which sealift.json does not list",
                           bundle::kind_name(out_.objects[i].entry.kind), out_.objects[i].entry.reference));
  }

  const oci::Manifest& document(const oci::Descriptor& d, const std::string& owner) {
    if (auto it = documents_.find(d.digest); it != documents_.end()) {
      // One document read as two types (an index here, an image manifest there) would be checked
      // as one and pushed, or pulled, as the other.
      const std::string& first = document_types_.at(d.digest);
      if (d.media_type != first)
        refuse(fmt::format("manifest {} of {} is listed as {}, and elsewhere in the bundle as {}", d.digest.str(), owner,
                           d.media_type, first));
      return it->second;
    }
    std::string path = bundle::blob_path(d.digest);
    if (!reader_.find(path)) refuse(fmt::format("manifest {} of {} is missing (no entry {})", d.digest.str(), owner, path));
    std::string bytes = read_entry(reader_, path);
    oci::Digest got = oci::Digest::of(bytes);
    if (got != d.digest || static_cast<int64_t>(bytes.size()) != d.size)
      refuse(fmt::format("entry {} (manifest of {}) has digest {} and {} bytes; expected {} and {} bytes", path, owner,
                         got.str(), bytes.size(), d.digest.str(), d.size));
    oci::Manifest m = about_entry(path, [&] { return oci::Manifest::parse(std::move(bytes), d.media_type); });
    out_.bytes_checked += static_cast<uint64_t>(d.size);
    document_types_.emplace(d.digest, d.media_type);
    return documents_.emplace(d.digest, std::move(m)).first->second;
  }

  void walk(BundleObject& object, const oci::Descriptor& d, int depth) {
    const std::string& owner = object.entry.reference;
    if (depth > kMaxIndexDepth) refuse(fmt::format("{}: indexes nested too deeply", owner));
    auto seen = [](const std::vector<oci::Descriptor>& v, const oci::Digest& digest) {
      return std::any_of(v.begin(), v.end(), [&](const oci::Descriptor& x) { return x.digest == digest; });
    };
    if (seen(object.manifests, d.digest)) return;
    const oci::Manifest& m = document(d, owner);
    object.manifests.push_back(d);
    if (m.is_index()) {
      for (const auto& child : m.manifests()) walk(object, child, depth + 1);
      return;
    }
    for (const auto& blob : m.children()) {
      auto [it, inserted] = blob_sizes_.emplace(blob.digest, blob.size);
      if (!inserted && it->second != blob.size)
        refuse(fmt::format("blob {} is described with {} bytes and with {} bytes ({})", blob.digest.str(), it->second,
                           blob.size, owner));
      blob_owners_.emplace(blob.digest, owner);
      if (!seen(object.blobs, blob.digest)) object.blobs.push_back(blob);
    }
    if (object.entry.kind == EntryKind::Image) {
      not_layers_.insert(m.config().digest);
      for (const auto& layer : m.layers()) layers_.insert(layer.digest);
    } else {
      for (const auto& blob : m.children()) not_layers_.insert(blob.digest);
    }
  }

  void check_chart_package() {
    const auto& chart = out_.root.chart;
    const oci::Manifest& m = documents_.at(chart.manifest);
    bool found = std::any_of(m.layers().begin(), m.layers().end(),
                             [&](const oci::Descriptor& l) { return l.digest == chart.package; });
    if (!found) refuse(fmt::format("the chart manifest {} does not carry the package {} that sealift.json names",
                                   chart.manifest.str(), chart.package.str()));
  }

  // A tool's manifest must carry exactly the binary sealift.json names, as its one layer.
  void check_tool_binaries() {
    for (const auto& tool : out_.root.tools) {
      const oci::Manifest& m = documents_.at(tool.manifest);
      if (m.is_index() || m.layers().size() != 1 || m.layers().front().digest != tool.binary ||
          m.layers().front().size != tool.size)
        refuse(fmt::format("the manifest {} of tool {} does not carry the binary {} ({} bytes) that sealift.json names",
                           tool.manifest.str(), tool.reference, tool.binary.str(), tool.size));
    }
  }

  // A signature check failed: the bundle is refused, or with --insecure-skip-signature a warning
  // names `name` and the problem.
  void refuse_or_warn(const Error& e, const std::string& name) {
    std::string what = e.what();
    if (what.find(name) == std::string::npos) what = fmt::format("{}: {}", name, what);
    if (!options_.insecure_skip_signature) throw Error(ErrorKind::Integrity, fmt::format("{}: {}", name_, what), e.hint());
    out_.warnings.push_back(what);
  }

  void check_signature(const oci::Digest& signature, const oci::Digest& subject, const std::string& name) {
    if (keys_.empty()) return;
    auto fetch = [&](const sign::SignatureLayer& layer) {
      std::string path = bundle::blob_path(layer.digest);
      if (!reader_.find(path))
        throw Error(ErrorKind::Integrity, fmt::format("signature payload {} is missing", layer.digest.str()));
      return read_entry(reader_, path, 1 << 20);
    };
    try {
      sign::SignatureManifest sm = sign::SignatureManifest::parse(documents_.at(signature).bytes());
      sign::verify_image_signatures(sm, subject, keys_, fetch, name);
    } catch (const Error& e) {
      refuse_or_warn(e, name);
    }
  }

  // A signature referrer's bundle, after the checks of its form: a signature bundle over exactly
  // `subject`, its layer present with the digest and size the referrer gives.
  std::string referrer_bundle(const oci::Digest& referrer, const oci::Descriptor& subject, const std::string& name) {
    return bundle_layer(sign::check_signature_referrer(documents_.at(referrer), subject, name), name, 1 << 20);
  }

  // The Sigstore bundle a referrer's checked layer descriptor names, read whole.
  std::string bundle_layer(const oci::Descriptor& layer, const std::string& name, uint64_t max_size) {
    std::string path = bundle::blob_path(layer.digest);
    if (!reader_.find(path))
      throw Error(ErrorKind::Integrity, fmt::format("{}: sigstore bundle {} is missing", name, layer.digest.str()));
    std::string bytes = read_entry(reader_, path, max_size);
    if (oci::Digest::of(bytes) != layer.digest || static_cast<int64_t>(bytes.size()) != layer.size)
      throw Error(ErrorKind::Integrity, fmt::format("{}: entry {} (its sigstore bundle) has digest {}, expected {}", name,
                                                    path, oci::Digest::of(bytes).str(), layer.digest.str()));
    return bytes;
  }


  // The cosign v3 form of the same signature: the referrer must be a signature bundle over exactly
  // `subject`, and the bundle's DSSE envelope signed by a trusted key over a statement naming it.
  void check_sigstore_signature(const oci::Digest& referrer, const oci::Descriptor& subject, const std::string& name) {
    if (keys_.empty()) return;
    try {
      sign::verify_sigstore_bundle(referrer_bundle(referrer, subject, name), subject.digest, keys_, name);
    } catch (const Error& e) {
      refuse_or_warn(e, name);
    }
  }

  // The publisher's signatures the build carried: each of proper form; with --upstream-key, one of
  // them must verify with it.
  void check_upstream_signatures(const bundle::RootImage& image, const oci::Descriptor& subject) {
    if (image.upstream_signatures.empty()) return;
    out_.upstream_signatures += image.upstream_signatures.size();
    std::vector<std::string> problems;
    bool verified = false;
    try {
      for (const auto& u : image.upstream_signatures) {
        std::string bytes = referrer_bundle(u, subject, image.source);
        if (options_.upstream_keys.empty()) continue;
        try {
          sign::verify_sigstore_bundle(bytes, subject.digest, options_.upstream_keys, image.source);
          verified = true;
          ++out_.upstream_signatures_verified;
        } catch (const Error& e) {
          if (e.kind() != ErrorKind::Integrity) throw;
          problems.push_back(e.what());
        }
      }
      if (!options_.upstream_keys.empty() && !verified)
        throw Error(ErrorKind::Integrity,
                    fmt::format("{}: none of its {} upstream signature(s) verifies with the --upstream-key given: {}",
                                image.source, problems.size(), fmt::join(problems, "; ")),
                    "check that --upstream-key is the key of this image's publisher");
    } catch (const Error& e) {
      refuse_or_warn(e, image.source);
    }
  }

  // The vendor's SBOMs: each an SPDX attestation over exactly the image, signed by a trusted key.
  void check_sboms(const bundle::RootImage& image, const oci::Descriptor& subject) {
    for (const auto& d : image.sboms) {
      try {
        const oci::Manifest& m = documents_.at(d);
        oci::Descriptor layer = sign::check_attestation_referrer(m, subject, sbom::kSpdxPredicateType, image.source);
        std::string bytes = bundle_layer(layer, image.source, kMaxAttestation);
        ++out_.sboms;
        if (keys_.empty()) continue;
        sign::verify_attestation_bundle(bytes, subject.digest, sbom::kSpdxPredicateType, keys_, image.source);
        ++out_.sboms_verified;
      } catch (const Error& e) {
        refuse_or_warn(e, image.source);
      }
    }
  }

  // What the publisher attached, as the build carried it: attestations of proper form over exactly
  // the image (with --upstream-key, each must verify with it) and plain SBOM artifacts naming it.
  void check_upstream_attestations(const bundle::RootImage& image, const oci::Descriptor& subject) {
    for (const auto& d : image.upstream_attestations) {
      try {
        const oci::Manifest& m = documents_.at(d);
        ++out_.upstream_attestations;
        if (m.artifact_type() == sign::kSigstoreBundleMediaType) {
          std::string predicate_type = sign::announced_predicate_type(m);
          if (predicate_type.empty() || predicate_type == sign::kCosignSignPredicateType)
            throw Error(ErrorKind::Integrity,
                        fmt::format("{}: upstream attestation {} announces predicate type \"{}\"", image.source,
                                    d.str(), predicate_type));
          oci::Descriptor layer = sign::check_attestation_referrer(m, subject, predicate_type, image.source);
          std::string bytes = bundle_layer(layer, image.source, kMaxAttestation);
          if (options_.upstream_keys.empty()) continue;
          sign::verify_attestation_bundle(bytes, subject.digest, predicate_type, options_.upstream_keys, image.source);
          ++out_.upstream_attestations_verified;
        } else if (m.artifact_type() == sbom::kSpdxArtifactType || m.artifact_type() == sbom::kCycloneDxArtifactType) {
          const auto& s = m.subject();
          if (!s || s->digest != subject.digest || s->size != subject.size || s->media_type != subject.media_type)
            throw Error(ErrorKind::Integrity, fmt::format("{}: upstream SBOM {} names another subject ({})", image.source,
                                                          d.str(), s ? s->digest.str() : std::string("none")));
        } else {
          throw Error(ErrorKind::Integrity, fmt::format("{}: upstream attestation {} has artifact type \"{}\"",
                                                        image.source, d.str(), m.artifact_type()));
        }
      } catch (const Error& e) {
        refuse_or_warn(e, image.source);
      }
    }
  }

  // Both forms, when the bundle carries both: one forged and the other intact is a forged bundle.
  void check_signatures() {
    const bundle::Root& root = out_.root;
    for (const auto& image : root.images) {
      check_signature(image.signature, image.digest, image.source);
      const oci::Descriptor& subject = out_.object(EntryKind::Image, image.source).entry.descriptor;
      if (root.format_version >= 2) check_sigstore_signature(image.referrer, subject, image.source);
      check_upstream_signatures(image, subject);
      check_sboms(image, subject);
      check_upstream_attestations(image, subject);
    }
    check_signature(root.chart.signature, root.chart.manifest, root.chart.reference);
    if (root.format_version >= 2)
      check_sigstore_signature(root.chart.referrer, out_.object(EntryKind::Chart, root.chart.reference).entry.descriptor,
                               root.chart.reference);
  }

  void check_blobs_present() {
    const bundle::Root& root = out_.root;
    std::set<oci::Digest> listed_omitted(root.omitted_blobs.begin(), root.omitted_blobs.end());
    if (!listed_omitted.empty() && !root.base)
      refuse("sealift.json leaves blobs out but names no base bundle that carries them");
    for (const auto& [digest, size] : blob_sizes_) {
      const bundle::TocEntry* e = reader_.find(bundle::blob_path(digest));
      bool omitted = listed_omitted.count(digest) > 0;
      if (e && omitted) refuse(fmt::format("blob {} is both in the bundle and listed as left out", digest.str()));
      if (e) {
        if (static_cast<int64_t>(e->size) != size)
          refuse(fmt::format("entry {} ({}) has {} bytes, its descriptor says {}", e->name, blob_owners_.at(digest),
                             e->size, size));
        continue;
      }
      if (!omitted)
        refuse(fmt::format("blob {} ({}) is missing from the bundle", digest.str(), blob_owners_.at(digest)));
      out_.omitted.insert(digest);
    }
    for (const auto& d : listed_omitted)
      if (!blob_sizes_.count(d)) refuse(fmt::format("sealift.json lists {} as left out, but nothing uses it", d.str()));
    // The installer host runs a tool from the bundle in hand; a bundle always carries its tools.
    for (const auto& tool : root.tools)
      if (out_.omitted.count(tool.binary))
        refuse(fmt::format("the binary {} of tool {} is left out of the bundle", tool.binary.str(), tool.reference));
  }

  void check_no_unexpected_entries() {
    const std::set<std::string_view> fixed = {bundle::kOciLayoutFile, bundle::kRootFile, bundle::kRootSignatureFile,
                                              bundle::kIndexFile};
    for (const auto& e : reader_.entries()) {
      if (fixed.count(e.name)) continue;
      auto digest = bundle::blob_digest(e.name);
      if (!digest || (!documents_.count(*digest) && !blob_sizes_.count(*digest)))
        refuse(fmt::format("unexpected entry {}: nothing in index.json refers to it", e.name));
      out_.carried.insert(*digest);
    }
  }

  // Only image layers are left to the push; a blob that is also a config, or part of the chart or
  // a signature, is hashed here.
  bool deferred(const oci::Digest& digest) const {
    return options_.scope == VerifyScope::AllButLayers && layers_.count(digest) && !not_layers_.count(digest);
  }

  // Every config and layer (or all but the layers), hashed in parallel straight from the archive.
  void hash_blobs() {
    std::vector<const bundle::TocEntry*> todo;
    uint64_t total = 0;
    for (const auto& e : reader_.entries()) {
      auto digest = bundle::blob_digest(e.name);
      if (!digest || documents_.count(*digest)) continue;
      if (deferred(*digest)) {
        out_.unhashed.emplace(*digest, blob_owners_.at(*digest));
        continue;
      }
      todo.push_back(&e);
      total += e.size;
    }
    // Largest first: the last entries to start are then small, and no core idles while another
    // hashes a big layer alone at the end.
    std::stable_sort(todo.begin(), todo.end(), [](const auto* a, const auto* b) { return a->size > b->size; });
    progress_.begin("verify", total);
    {
      registry::TransferScheduler scheduler(std::max(options_.jobs, 1));
      for (const bundle::TocEntry* e : todo) {
        scheduler.submit("verify " + e->name, [this, e] { hash_entry(*e); });
      }
      scheduler.wait();
    }
    progress_.end();
    out_.bytes_checked += total;
  }

  void hash_entry(const bundle::TocEntry& e) {
    oci::Digest expected = *bundle::blob_digest(e.name);
    oci::Digest got = about_entry(e.name, [&] {
      auto source = reader_.open(e.name);
      oci::Sha256 hash;
      for (auto part = source->next(); !part.empty(); part = source->next()) {
        hash.update(part);
        progress_.advance(part.size());
      }
      return hash.finish();
    });
    if (got != expected)
      refuse(fmt::format("entry {} ({}) has digest {}: its content was altered", e.name, blob_owners_.at(expected),
                         got.str()));
  }

  const bundle::ArchiveReader& reader_;
  const sign::TrustedKeys& keys_;
  const VerifyOptions& options_;
  util::Progress& progress_;
  const std::string name_;
  VerifiedBundle out_;
  std::map<oci::Digest, oci::Manifest> documents_;   // every manifest and index, checked
  std::map<oci::Digest, std::string> document_types_;  // ... and the media type its first descriptor gave
  std::map<oci::Digest, int64_t> blob_sizes_;        // every config and layer referenced
  std::map<oci::Digest, std::string> blob_owners_;   // the first object referencing each, for messages
  std::set<oci::Digest> layers_;                     // layers of images
  std::set<oci::Digest> not_layers_;                 // configs, and every blob of the chart and signatures
};

}  // namespace

const BundleObject& VerifiedBundle::object(bundle::EntryKind kind, const std::string& reference) const {
  for (const auto& o : objects)
    if (o.entry.kind == kind && o.entry.reference == reference) return o;
  throw Error(ErrorKind::Internal, fmt::format("the verified bundle has no {} {}", bundle::kind_name(kind), reference));
}

VerifiedBundle verify_bundle(const bundle::ArchiveReader& reader, const sign::TrustedKeys& keys,
                             const VerifyOptions& options, util::Progress& progress) {
  return Verifier(reader, keys, options, progress).run();
}

}  // namespace sealift::install
