#include "install/push.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "bundle/layout.h"
#include "bundle/root.h"
#include "install/bundle_content.h"
#include "ref/reference.h"
#include "registry/transfer.h"
#include "sign/payload.h"
#include "sign/sigmanifest.h"
#include "sign/sigstore_bundle.h"
#include "util/encoding.h"
#include "util/error.h"

namespace sealift::install {

namespace {

using bundle::EntryKind;

oci::Descriptor descriptor_of(const sign::SignatureLayer& layer) {
  oci::Descriptor d;
  d.media_type = layer.media_type;
  d.digest = layer.digest;
  d.size = layer.size;
  return d;
}

// One thing that gets a tag in the target: an image or the chart, with its signature.
struct Target {
  std::string what;        // "image docker.io/library/postgres:16.4", "chart ai-saas-dashboard 1.0.0"
  std::string repository;  // "ai-saas/library/postgres"
  std::string tag;
  const BundleObject* object = nullptr;
  const BundleObject* signature = nullptr;
  const BundleObject* referrer = nullptr;  // cosign v3 form (format 2 bundles)
  std::vector<const BundleObject*> upstream;  // the publisher's Sigstore bundle referrers, as carried
  std::vector<const BundleObject*> sboms;     // the vendor's SBOM attestations
  std::vector<const BundleObject*> attestations;  // the publisher's attestations and SBOMs, as carried

  // Every referrer to put by digest: the vendor's signature, the publisher's, the SBOMs and
  // attestations.
  std::vector<const BundleObject*> referrers() const {
    std::vector<const BundleObject*> out;
    if (referrer) out.push_back(referrer);
    for (const auto* list : {&upstream, &sboms, &attestations}) out.insert(out.end(), list->begin(), list->end());
    return out;
  }
  bool chart = false;

  const oci::Digest& digest() const { return object->entry.descriptor.digest; }
  std::string signature_tag() const { return sign::signature_tag(digest()); }
};

std::vector<Target> make_targets(const VerifiedBundle& bundle, const Relocation& relocation) {
  std::vector<Target> out;
  for (const auto& image : relocation.images) {
    ref::Reference source = ref::Reference::parse(image.source);
    Target t;
    t.what = "image " + image.source;
    t.repository = image.repository;
    t.tag = image.tag;
    t.object = &bundle.object(EntryKind::Image, image.source);
    t.signature = &bundle.object(EntryKind::Signature, source.name() + ":" + image.digest.tag_form() + ".sig");
    for (const auto& ri : bundle.root.images)
      if (ri.source == image.source) {
        if (!ri.referrer.empty()) t.referrer = &bundle.object(EntryKind::Referrer, source.name() + "@" + ri.referrer.str());
        for (const auto& u : ri.upstream_signatures)
          t.upstream.push_back(&bundle.object(EntryKind::Referrer, source.name() + "@" + u.str()));
        for (const auto& u : ri.sboms) t.sboms.push_back(&bundle.object(EntryKind::Referrer, source.name() + "@" + u.str()));
        for (const auto& u : ri.upstream_attestations)
          t.attestations.push_back(&bundle.object(EntryKind::Referrer, source.name() + "@" + u.str()));
      }
    out.push_back(t);
  }
  const auto& chart = bundle.root.chart;
  std::string chart_repository = chart.reference.substr(0, chart.reference.rfind(':'));
  Target t;
  t.what = fmt::format("chart {} {}", chart.name, chart.version);
  t.repository = relocation.chart.repository;
  t.tag = relocation.chart.tag;
  t.object = &bundle.object(EntryKind::Chart, chart.reference);
  t.signature = &bundle.object(EntryKind::Signature, chart_repository + ":" + chart.manifest.tag_form() + ".sig");
  if (!chart.referrer.empty()) t.referrer = &bundle.object(EntryKind::Referrer, chart_repository + "@" + chart.referrer.str());
  t.chart = true;
  out.push_back(t);
  return out;
}

class Pusher {
 public:
  Pusher(const bundle::ArchiveReader& reader, const VerifiedBundle& bundle, const Relocation& relocation,
         registry::RegistryClient& target, harbor::HarborApi* harbor, const sign::TrustedKeys& keys,
         const PushOptions& options, util::Progress& progress)
      : reader_(reader),
        bundle_(bundle),
        relocation_(relocation),
        target_(target),
        harbor_(harbor),
        keys_(keys),
        options_(options),
        progress_(progress),
        content_(reader, bundle),
        targets_(make_targets(bundle, relocation)) {
    if (options.resign_key) {
      // The cluster's admission policy trusts the site's key, so it signs only what the vendor's
      // signature vouched for, with nothing let through (the command line refuses
      // --insecure-skip-signature with --resign-key already; this holds for every caller).
      if (!bundle.signature_verified || !bundle.warnings.empty())
        throw Error(ErrorKind::Integrity,
                    fmt::format("{} {}: the site key signs only a bundle whose vendor signature verified{}",
                                bundle.root.name, bundle.root.version,
                                bundle.warnings.empty() ? std::string()
                                                        : fmt::format(" (verification warned: {})",
                                                                      fmt::join(bundle.warnings, "; "))),
                    "verify the bundle with the vendor's key (--key), or push without --resign-key");
      site_keys_.add(options.resign_key->public_key());
    }
    for (const Target& t : targets_) {
      PushedObject o;
      o.chart = t.chart;
      o.source = t.object->entry.reference;
      o.digest = t.digest();
      o.target = where(t, t.digest().str());
      o.tag = where(t, t.tag);
      report_.objects.push_back(o);
    }
    // cosign v2 reads only Sigstore bundles once an image has any, attestations included: the
    // legacy form leaves every referrer behind.
    if (options.legacy_signatures_only)
      for (Target& t : targets_) {
        report_.referrers_left_out += t.sboms.size() + t.attestations.size();
        t.referrer = nullptr;
        t.upstream.clear();
        t.sboms.clear();
        t.attestations.clear();
      }
  }

  PushReport run() {
    const registry::RegistryStats before = target_.stats();
    const std::string& project = relocation_.project;
    if (!harbor_ && options_.create_project)
      throw Error(ErrorKind::Usage, fmt::format("{} is not Harbor: it has no projects to create", relocation_.registry),
                  "drop --create-project");
    // Only Harbor has projects; on any other registry the first path segment needs no creating.
    bool exists = !harbor_ || harbor_->project_exists(project);
    if (!exists && !options_.create_project)
      throw Error(ErrorKind::Remote, fmt::format("project \"{}\" does not exist on {}", project, relocation_.registry),
                  "create it in Harbor, or let sealift-install create it with --create-project");
    // A delta needs its base's blobs in the project: one made now would be left behind empty.
    if (!exists) refuse_delta_into_new_project();
    if (options_.dry_run) {
      plan(exists);
      return report_;
    }
    if (!exists) report_.project_created = harbor_->create_project(project);
    target_.check_push_access(targets_.front().repository);
    read_tags();
    check_delta();

    progress_.begin("push", carried_bytes());
    push_blobs();
    progress_.end();
    for (const Target& t : targets_)
      if (!t.chart && !complete(t)) push_manifests(t, *t.object, {});
    for (const Target& t : targets_)
      if (!t.chart) {
        push_signature(t);
        for (const BundleObject* r : t.referrers()) push_referrer(t, *r);
        if (options_.resign_key) resign(t);
      }
    for (const Target& t : targets_)
      if (t.chart) {
        if (!complete(t)) push_manifests(t, *t.object, {});
        push_signature(t);
        for (const BundleObject* r : t.referrers()) push_referrer(t, *r);
        if (options_.resign_key) resign(t);
      }
    write_tags();
    read_back();

    const registry::RegistryStats after = target_.stats();
    report_.blobs_uploaded = after.blobs_uploaded - before.blobs_uploaded;
    report_.blobs_mounted = after.blobs_mounted - before.blobs_mounted;
    report_.blobs_skipped = after.blobs_skipped - before.blobs_skipped;
    report_.bytes_uploaded = after.bytes_uploaded - before.bytes_uploaded;
    report_.manifests_pushed = after.manifests_pushed - before.manifests_pushed;
    return report_;
  }

 private:
  std::string where(const Target& t, const std::string& reference) const {
    std::string sep = oci::Digest::valid(reference) ? "@" : ":";
    return fmt::format("{}/{}{}{}", relocation_.registry, t.repository, sep, reference);
  }

  // The image (or chart) and its signatures in every form the bundle carries.
  static std::vector<const BundleObject*> objects_of(const Target& t) {
    std::vector<const BundleObject*> out{t.object, t.signature};
    for (const BundleObject* r : t.referrers()) out.push_back(r);
    return out;
  }

  uint64_t carried_bytes() const {
    uint64_t total = 0;
    std::set<oci::Digest> seen;
    for (const Target& t : targets_)
      for (const BundleObject* o : objects_of(t))
        for (const auto& b : o->blobs)
          if (bundle_.carried.count(b.digest) && seen.insert(b.digest).second) total += static_cast<uint64_t>(b.size);
    return total;
  }

  // What each repository held before anything was pushed: existing tags are compared, not rewritten.
  void read_tags() {
    for (const Target& t : targets_)
      if (!tags_.count(t.repository)) {
        auto list = target_.list_tags(t.repository);
        tags_[t.repository] = std::set<std::string>(list.begin(), list.end());
      }
    for (const Target& t : targets_)
      if (had_tag(t, t.tag) && target_.resolve(t.repository, t.tag).digest == t.digest()) complete_.insert(&t);
    // A referrer is put by digest only, after its blobs: where the manifest is, so are they.
    for (const Target& t : targets_)
      for (const BundleObject* r : t.referrers())
        if (target_.manifest_exists(t.repository, r->entry.descriptor.digest))
          referrer_present_.insert({t.repository, r->entry.descriptor.digest});
  }

  // The target's tag already points at the bundle's digest. Tags go last, and the registry takes a
  // manifest only when every blob and child manifest under it is there, so nothing under that tag
  // needs to be sent, or even asked about, again (a re-push asks about tags, not every blob).
  bool complete(const Target& t) const { return complete_.count(&t) != 0; }

  bool had_tag(const Target& t, const std::string& tag) const {
    auto it = tags_.find(t.repository);
    return it != tags_.end() && it->second.count(tag);
  }

  // A delta bundle leaves out blobs of its base; the target must hold each one in a repository of
  // this push (where it is needed, or from where it can be mounted) before anything moves.
  void check_delta() {
    if (bundle_.omitted.empty()) return;
    std::map<oci::Digest, std::vector<std::string>> needed;
    std::map<oci::Digest, int64_t> sizes;
    std::set<std::string> repositories;
    for (const Target& t : targets_) {
      repositories.insert(t.repository);
      for (const BundleObject* o : objects_of(t))
        for (const auto& b : o->blobs) {
          if (!bundle_.omitted.count(b.digest)) continue;
          auto& in = needed[b.digest];
          if (std::find(in.begin(), in.end(), t.repository) == in.end()) in.push_back(t.repository);
          sizes[b.digest] = b.size;
        }
    }
    std::vector<std::string> missing;
    for (const auto& [digest, in] : needed) {
      std::vector<std::string> holders;
      for (const auto& r : in)
        if (target_.blob_exists(r, digest)) holders.push_back(r);
      if (holders.empty())
        for (const auto& r : repositories)
          if (std::find(in.begin(), in.end(), r) == in.end() && target_.blob_exists(r, digest)) {
            holders.push_back(r);
            break;
          }
      if (holders.empty())
        missing.push_back(fmt::format("{} ({}, for {})", digest.str(), util::human_bytes(static_cast<uint64_t>(sizes[digest])),
                                      fmt::join(in, ", ")));
      for (const auto& h : holders) target_.note_blob(h, digest);
    }
    if (missing.empty()) return;
    const auto& base = *bundle_.root.base;
    constexpr size_t kShown = 20;
    std::string list = fmt::format("{}", fmt::join(missing.begin(), missing.begin() + std::min(missing.size(), kShown), "; "));
    if (missing.size() > kShown) list += fmt::format("; and {} more", missing.size() - kShown);
    throw Error(ErrorKind::Remote,
                fmt::format("{} {} is a delta against {} {}, but {}/{} lacks {} of the {} blobs it leaves out: {}",
                            bundle_.root.name, bundle_.root.version, base.name, base.version, relocation_.registry,
                            relocation_.project, missing.size(), needed.size(), list),
                fmt::format("push the base bundle ({} {}) to this project first, or ask the vendor for a full bundle",
                            base.name, base.version));
  }

  // Every blob of every image, signature and the chart, in parallel, before any manifest: the
  // layers verification left to the push are hashed as they are sent (BundleContent), so a
  // tampered one stops the push here, before anything refers to it. A blob is sent to its first
  // repository before it is mounted into the others: those pushes wait for the upload, so they
  // queue behind every first upload rather than hold the workers early.
  void push_blobs() {
    std::vector<std::pair<const Target*, oci::Descriptor>> first, again;
    std::set<oci::Digest> seen;
    auto add = [&](const Target& t, const BundleObject& o) {
      for (const auto& b : o.blobs) (seen.insert(b.digest).second ? first : again).emplace_back(&t, b);
    };
    for (const Target& t : targets_) {
      if (complete(t)) object_of(t).blobs_skipped += t.object->blobs.size();
      else add(t, *t.object);
      // A signature tag already there is compared, and merged with ours if it differs, later.
      if (!had_tag(t, t.signature_tag())) add(t, *t.signature);
      for (const BundleObject* r : t.referrers())
        if (!referrer_present(t, *r)) add(t, *r);
    }
    registry::TransferScheduler scheduler(std::max(options_.jobs, 1));
    for (const auto* list : {&first, &again})
      for (const auto& [t, b] : *list)
        scheduler.submit(fmt::format("push {}/{}@{}", target_.registry(), t->repository, b.digest.str()),
                         [this, t = t, b = b] {
                           record(*t, b, target_.push_blob(t->repository, b, [this, &b](uint64_t offset) {
                             return content_.open_blob(b, offset);
                           }));
                         });
    scheduler.wait();
  }

  // Every manifest under `object` by digest (children before the indexes that list them; those
  // already there are left alone), then `tags` on its top. Its blobs are in already.
  void push_manifests(const Target& t, const BundleObject& object, const std::vector<std::string>& tags) {
    for (auto d = object.manifests.rbegin(); d != object.manifests.rend(); ++d)
      if (!target_.manifest_exists(t.repository, d->digest))
        target_.put_manifest(t.repository, d->digest.str(), oci::Manifest::parse(content_.manifest_bytes(*d), d->media_type));
    if (tags.empty()) return;
    const oci::Descriptor& top = object.entry.descriptor;
    oci::Manifest manifest = oci::Manifest::parse(content_.manifest_bytes(top), top.media_type);
    for (const auto& tag : tags) target_.put_manifest(t.repository, tag, manifest);
  }

  void push_signature(const Target& t) {
    const oci::Descriptor& sig = t.signature->entry.descriptor;
    const std::string tag = t.signature_tag();
    if (had_tag(t, tag)) {
      oci::Manifest current = target_.get_manifest(t.repository, tag);
      if (current.digest() == sig.digest) return;
      merge_signatures(t, current);
      return;
    }
    push_manifests(t, *t.signature, {tag});
  }

  // The target already holds signatures for this digest (an earlier bundle, or the customer's
  // own): add the bundle's, as cosign does, rather than overwrite theirs.
  void merge_signatures(const Target& t, const oci::Manifest& current) {
    const oci::Descriptor& sig = t.signature->entry.descriptor;
    if (keys_.empty()) {
      progress_.note(fmt::format("{} already holds other signatures; without --key the bundle's cannot be checked, so "
                                 "they were not added",
                                 where(t, t.signature_tag())));
      return;
    }
    sign::SignatureManifest merged = sign::SignatureManifest::parse(current.bytes());
    sign::SignatureManifest ours = sign::SignatureManifest::parse(content_.manifest_bytes(sig));
    std::vector<oci::Descriptor> payloads;
    for (const auto& layer : ours.layers()) {
      std::string payload = reader_.read_small(bundle::blob_path(layer.digest), 1 << 20);
      const sign::PublicKey* key = keys_.signer_of(payload, util::base64_decode(layer.signature()));
      if (!key || !claims(payload, t.digest())) continue;
      if (merged.add({payload, layer}, *key)) payloads.push_back(descriptor_of(layer));
    }
    if (payloads.empty()) return;
    for (const auto& d : payloads)
      record(t, d, target_.push_blob(t.repository, d, [&](uint64_t offset) { return content_.open_blob(d, offset); }));
    put_signature_manifest(t, merged);
    ++report_.signatures_merged;
  }

  // Whether a signed payload is about `image`. Verification needs one layer of the bundle's `.sig`
  // manifest to claim the image and skips the rest, as cosign does; a layer a trusted key signed
  // for another image (say, replayed from another `.sig`) must not join the target's.
  static bool claims(std::string_view payload, const oci::Digest& image) {
    try {
      return sign::SimpleSigningPayload::parse(payload).manifest_digest == image;
    } catch (const Error&) {
      return false;
    }
  }

  void put_signature_manifest(const Target& t, const sign::SignatureManifest& signatures) {
    oci::Manifest manifest = oci::Manifest::parse(signatures.manifest(), signatures.media_type());
    push_bytes(t, manifest.config(), signatures.config());
    target_.put_manifest(t.repository, t.signature_tag(), manifest);
  }

  // A blob made here (a signature's payload or config), not carried by the bundle.
  void push_bytes(const Target& t, const oci::Descriptor& d, std::string_view content) {
    record(t, d, target_.push_blob(t.repository, d, [content](uint64_t offset) {
      auto bytes = std::as_bytes(std::span(content.data(), content.size()));
      return std::make_unique<io::MemorySource>(bytes.subspan(std::min<size_t>(offset, bytes.size())));
    }));
  }

  PushedObject& object_of(const Target& t) { return report_.objects.at(static_cast<size_t>(&t - targets_.data())); }

  // Called from the transfer threads.
  void record(const Target& t, const oci::Descriptor& blob, registry::BlobPush what) {
    std::lock_guard lock(record_mu_);
    PushedObject& o = object_of(t);
    switch (what) {
      case registry::BlobPush::Skipped: ++o.blobs_skipped; break;
      case registry::BlobPush::Mounted: ++o.blobs_mounted; break;
      case registry::BlobPush::Uploaded:
        ++o.blobs_uploaded;
        o.bytes_uploaded += static_cast<uint64_t>(blob.size);
        break;
    }
  }

  // The site's signature over `t` under its relocated name, in each form this push writes. Runs
  // after the vendor's are in place, so the `.sig` tag exists; a signature the site key already
  // made there (a re-run) is found and none is added: cosign's duplicate rule for the `.sig`
  // layers, a verified bundle among the referrers for the Sigstore form (ECDSA signatures and
  // the creation time differ on every signing, so bytes would never match).
  void resign(const Target& t) {
    const sign::Signer& key = *options_.resign_key;
    sign::SignatureManifest signatures =
        sign::SignatureManifest::parse(target_.get_manifest(t.repository, t.signature_tag()).bytes());
    sign::ImageSignature sig = sign::sign_image(key, fmt::format("{}/{}", relocation_.registry, t.repository), t.digest());
    if (signatures.add(sig, site_keys_.keys().front())) {
      push_bytes(t, descriptor_of(sig.layer), sig.payload);
      put_signature_manifest(t, signatures);
      ++object_of(t).site_signatures_added;
      ++report_.site_signatures_added;
    }
    if (options_.legacy_signatures_only || signed_referrer(t, site_keys_)) return;
    sign::SigstoreSignature signed_bundle = sign::sign_sigstore(key, t.object->entry.descriptor, bundle::creation_time());
    oci::Manifest m = oci::Manifest::parse(signed_bundle.manifest, oci::media::kOciManifest);
    push_bytes(t, m.layers().at(0), signed_bundle.bundle);
    push_bytes(t, m.config(), sign::kEmptyConfig);
    ++report_.referrers_pushed;
    ++object_of(t).site_signatures_added;
    ++report_.site_signatures_added;
    if (!target_.put_manifest(t.repository, m.digest().str(), m)) index_referrer(t, m);
  }

  // The cosign v3 signature: the referrer manifest by digest. A registry with the referrers API
  // indexes it (OCI-Subject in the answer, or the API lists it); one without gets it listed in the
  // referrers tag "sha256-<hex>" of the subject (OCI distribution 1.1, referrers tag schema), as
  // cosign and oras do. A re-run adds nothing twice.
  void push_referrer(const Target& t, const BundleObject& referrer) {
    const oci::Descriptor& d = referrer.entry.descriptor;
    oci::Manifest m = oci::Manifest::parse(content_.manifest_bytes(d), d.media_type);
    if (!referrer_present(t, referrer)) {
      ++report_.referrers_pushed;
      if (target_.put_manifest(t.repository, d.digest.str(), m)) return;
    }
    index_referrer(t, m);
  }

  // A referrer put without the registry indexing it (no OCI-Subject in its answer): listed by the
  // referrers API after all, or added to the referrers tag.
  void index_referrer(const Target& t, const oci::Manifest& m) {
    const oci::Digest d = m.digest();
    if (auto index = target_.referrers(t.repository, t.digest())) {
      if (lists(*index, d)) return;
      throw Error(ErrorKind::Remote,
                  fmt::format("{} holds the signature referrer {}, but its referrers API does not list it",
                              where(t, t.digest().str()), d.str()),
                  "the registry's referrers index may lag behind; re-run the push");
    }
    update_referrers_tag(t, m);
  }

  static bool lists(const oci::Manifest& index, const oci::Digest& digest) {
    return std::any_of(index.manifests().begin(), index.manifests().end(),
                       [&](const oci::Descriptor& x) { return x.digest == digest; });
  }

  void update_referrers_tag(const Target& t, const oci::Manifest& referrer) {
    const std::string tag = t.digest().tag_form();
    nlohmann::ordered_json index;
    if (had_tag(t, tag) || tag_exists(t, tag)) {
      oci::Manifest current = target_.get_manifest(t.repository, tag);
      if (!current.is_index())
        throw Error(ErrorKind::Remote,
                    fmt::format("{} is the referrers tag of {}, but holds a {}, not an image index", where(t, tag),
                                t.digest().str(), current.media_type()),
                    "something else uses that tag; remove it, or push to a registry with the referrers API");
      if (lists(current, referrer.digest())) return;
      index = nlohmann::ordered_json::parse(current.bytes());
    } else {
      index = {{"schemaVersion", 2}, {"mediaType", oci::media::kOciIndex}, {"manifests", nlohmann::ordered_json::array()}};
    }
    oci::Descriptor entry = referrer.descriptor();
    entry.artifact_type = referrer.artifact_type();
    entry.annotations = referrer.annotations();
    index["manifests"].push_back(entry.to_json());
    target_.put_manifest(t.repository, tag, oci::Manifest::parse(index.dump(), oci::media::kOciIndex));
    ++report_.referrers_tagged;
  }

  bool referrer_present(const Target& t, const BundleObject& r) const {
    return referrer_present_.count({t.repository, r.entry.descriptor.digest}) != 0;
  }

  // A tag made after read_tags() (by this push: two targets of one repository share a subject).
  bool tag_exists(const Target& t, const std::string& tag) { return target_.find(t.repository, tag).has_value(); }

  // The cosign v3 signatures as `cosign verify` of v3 finds them: through the referrers API, else
  // the referrers tag. Returns the key of the first signature bundle over the digest that one of
  // `keys` made; nullptr, with why each candidate failed in `problems`, when there is none.
  const sign::PublicKey* signed_referrer(const Target& t, const sign::TrustedKeys& keys,
                                         std::vector<std::string>* problems = nullptr) {
    const std::string name = where(t, t.digest().str());
    std::optional<oci::Manifest> index = target_.referrers(t.repository, t.digest());
    if (!index) {
      const std::string tag = t.digest().tag_form();
      if (!target_.find(t.repository, tag)) return nullptr;
      index = target_.get_manifest(t.repository, tag);
    }
    for (const auto& d : index->manifests()) {
      if (!sign::is_signature_referrer(d)) continue;
      try {
        oci::Manifest m = target_.get_manifest(t.repository, d);
        oci::Descriptor layer = sign::check_signature_referrer(m, t.object->entry.descriptor, name);
        io::StringSink bundle;
        target_.fetch_blob(t.repository, layer, bundle);
        return &sign::verify_sigstore_bundle(bundle.out, t.digest(), keys, name);
      } catch (const Error& e) {
        if (e.kind() != ErrorKind::Integrity) throw;
        if (problems) problems->push_back(e.what());
      }
    }
    return nullptr;
  }

  void read_back_referrer(const Target& t, const sign::TrustedKeys& keys, const std::string& signer) {
    std::vector<std::string> problems;
    const sign::PublicKey* key = signed_referrer(t, keys, &problems);
    if (!key)
      throw Error(ErrorKind::Integrity,
                  fmt::format("read back {}: no cosign v3 signature by a {} key among its referrers{}",
                              where(t, t.digest().str()), signer == "site" ? "site (--resign-key)" : "trusted",
                              problems.empty() ? std::string(" (it has none)") : fmt::format(": {}", fmt::join(problems, "; "))),
                  "someone altered the signatures in the target; re-run the push");
    object_of(t).signatures.push_back({"Sigstore bundle referrer", signer, key->fingerprint()});
    if (signer == "site") ++report_.site_signatures_verified;
    else ++report_.referrers_verified;
  }

  // The SBOMs and attestations, listed where `cosign verify-attestation` looks (their bytes were
  // put by digest from the verified bundle, and registries check digests).
  void read_back_attestations(const Target& t) {
    if (t.sboms.empty() && t.attestations.empty()) return;
    std::optional<oci::Manifest> index = target_.referrers(t.repository, t.digest());
    if (!index) index = target_.get_manifest(t.repository, t.digest().tag_form());
    const auto& listed = index->manifests();
    for (const auto* list : {&t.sboms, &t.attestations})
      for (const BundleObject* r : *list) {
        if (std::none_of(listed.begin(), listed.end(),
                         [&](const oci::Descriptor& d) { return d.digest == r->entry.descriptor.digest; }))
          throw Error(ErrorKind::Integrity,
                      fmt::format("read back {}: its referrers do not list the attestation {}", where(t, t.digest().str()),
                                  r->entry.descriptor.digest.str()),
                      "the registry's referrers index may lag behind; re-run the push");
        ++report_.sboms_listed;
      }
  }

  // The images' tags, then the chart's: helm installs from the chart's tag, so it moves only once
  // every image's has. Tags move one by one; when one fails, the error says which moved, and a
  // re-run finds those complete and moves the rest.
  void write_tags() {
    std::vector<const Target*> order;
    for (const Target& t : targets_)
      if (!t.chart) order.push_back(&t);
    for (const Target& t : targets_)
      if (t.chart) order.push_back(&t);
    std::vector<std::string> moved;
    for (size_t i = 0; i < order.size(); ++i) {
      try {
        write_tag(*order[i]);
      } catch (const Error& e) {
        std::vector<std::string> not_moved;
        for (size_t j = i; j < order.size(); ++j) not_moved.push_back(where(*order[j], order[j]->tag));
        std::string hint = "re-run the push: it moves the tags that did not move, the chart's last";
        if (!e.hint().empty()) hint = e.hint() + "; then " + hint;
        throw Error(e.kind(),
                    fmt::format("{}; tags moved: {}; not moved: {}", e.what(),
                                moved.empty() ? std::string("none") : fmt::format("{}", fmt::join(moved, ", ")),
                                fmt::join(not_moved, ", ")),
                    hint);
      }
      moved.push_back(where(*order[i], order[i]->tag));
    }
  }

  void write_tag(const Target& t) {
    const oci::Descriptor& d = t.object->entry.descriptor;
    if (complete(t)) {
      ++report_.tags_unchanged;
      return;
    }
    target_.put_manifest(t.repository, t.tag, oci::Manifest::parse(content_.manifest_bytes(d), d.media_type));
    ++report_.tags_written;
    object_of(t).tag_written = true;
  }

  // What the cluster and cosign will see: every tag, every manifest below it, every signature.
  void read_back() {
    for (const Target& t : targets_) {
      oci::Manifest top = target_.get_manifest(t.repository, t.tag);
      if (top.digest() != t.digest())
        throw Error(ErrorKind::Integrity,
                    fmt::format("read back {}: the target serves {}, the bundle carries {}", where(t, t.tag),
                                top.digest().str(), t.digest().str()),
                    "someone else is pushing to this tag; re-run the push when they are done");
      for (const auto& m : t.object->manifests) target_.get_manifest(t.repository, m);
      oci::Manifest sig = target_.get_manifest(t.repository, t.signature_tag());
      auto fetch = [&](const sign::SignatureLayer& layer) {
        io::StringSink out;
        target_.fetch_blob(t.repository, descriptor_of(layer), out);
        return out.out;
      };
      const sign::SignatureManifest signatures = sign::SignatureManifest::parse(sig.bytes());
      if (!keys_.empty()) {
        for (const auto& v : sign::verify_image_signatures(signatures, t.digest(), keys_, fetch, where(t, t.digest().str())))
          add_checked(t, {"cosign .sig", "vendor", v.key.fingerprint()});
        ++report_.signatures_verified;
        if (t.referrer) read_back_referrer(t, keys_, "vendor");
      }
      read_back_attestations(t);
      if (site_keys_.empty()) continue;
      for (const auto& v : sign::verify_image_signatures(signatures, t.digest(), site_keys_, fetch, where(t, t.digest().str())))
        add_checked(t, {"cosign .sig", "site", v.key.fingerprint()});
      ++report_.site_signatures_verified;
      if (!options_.legacy_signatures_only) read_back_referrer(t, site_keys_, "site");
    }
  }

  // One line per form and key: a key that signed twice (two bundles) is one check.
  void add_checked(const Target& t, CheckedSignature c) {
    auto& list = object_of(t).signatures;
    for (const auto& x : list)
      if (x.form == c.form && x.signer == c.signer && x.fingerprint == c.fingerprint) return;
    list.push_back(std::move(c));
  }

  void plan(bool project_exists) {
    const std::string& project = relocation_.project;
    if (!project_exists) {
      report_.plan.push_back(fmt::format("create project \"{}\" on {}", project, relocation_.registry));
    } else {
      target_.check_push_access(targets_.front().repository);
      read_tags();
    }
    if (project_exists) check_delta();
    std::set<oci::Digest> sent;
    for (const Target& t : targets_) {
      size_t to_send = 0, to_mount = 0, total = 0;
      uint64_t bytes = 0;
      for (const BundleObject* o : objects_of(t))
        for (const auto& b : o->blobs) {
          ++total;
          if (bundle_.omitted.count(b.digest) || (project_exists && target_.blob_exists(t.repository, b.digest))) continue;
          if (sent.insert(b.digest).second) {
            ++to_send;
            bytes += static_cast<uint64_t>(b.size);
          } else {
            ++to_mount;
          }
        }
      std::string tag_state = "new";
      if (had_tag(t, t.tag))
        tag_state = target_.resolve(t.repository, t.tag).digest == t.digest() ? "unchanged" : "moved to the bundle's digest";
      std::string signature_state = "new";
      if (had_tag(t, t.signature_tag()))
        signature_state = target_.resolve(t.repository, t.signature_tag()).digest == t.signature->entry.descriptor.digest
                              ? "unchanged"
                              : "merged with the signatures already there";
      std::string referrer_state;
      if (t.referrer) referrer_state = referrer_present(t, *t.referrer) ? "; cosign v3 signature unchanged" : "; cosign v3 signature new";
      if (!site_keys_.empty())
        referrer_state += fmt::format("; signed with the site's key {} unless it signed already",
                                      site_keys_.keys().front().fingerprint());
      report_.plan.push_back(fmt::format("push {} to {} ({}): {} of {} blobs to upload ({}), {} to mount; tag {}; signature {}{}",
                                         t.what, where(t, t.tag), t.digest().str(), to_send, total,
                                         util::human_bytes(bytes), to_mount, tag_state, signature_state, referrer_state));
    }
  }

  // A project that does not exist yet holds none of the blobs a delta leaves out.
  void refuse_delta_into_new_project() {
    if (bundle_.omitted.empty()) return;
    const auto& base = *bundle_.root.base;
    throw Error(ErrorKind::Remote,
                fmt::format("{} {} is a delta against {} {}, but project \"{}\" does not exist on {}, so it holds none "
                            "of the {} blobs the bundle leaves out",
                            bundle_.root.name, bundle_.root.version, base.name, base.version, relocation_.project,
                            relocation_.registry, bundle_.omitted.size()),
                fmt::format("push the base bundle ({} {}) first", base.name, base.version));
  }

  const bundle::ArchiveReader& reader_;
  const VerifiedBundle& bundle_;
  const Relocation& relocation_;
  registry::RegistryClient& target_;
  harbor::HarborApi* harbor_;
  const sign::TrustedKeys& keys_;
  const PushOptions& options_;
  util::Progress& progress_;
  BundleContent content_;
  std::vector<Target> targets_;
  std::map<std::string, std::set<std::string>> tags_;  // repository -> tags before the push
  std::set<const Target*> complete_;                   // tags already at the bundle's digest
  std::set<std::pair<std::string, oci::Digest>> referrer_present_;  // referrer manifests already there
  sign::TrustedKeys site_keys_;  // the --resign-key's public key, or none
  std::mutex record_mu_;
  PushReport report_;
};

}  // namespace

PushReport push_bundle(const bundle::ArchiveReader& reader, const VerifiedBundle& bundle, const Relocation& relocation,
                       registry::RegistryClient& target, harbor::HarborApi* harbor, const sign::TrustedKeys& keys,
                       const PushOptions& options, util::Progress& progress) {
  return Pusher(reader, bundle, relocation, target, harbor, keys, options, progress).run();
}

std::function<void(const oci::Digest&, uint64_t, uint64_t)> progress_reporter(util::Progress& progress) {
  struct State {
    std::mutex mu;
    std::map<oci::Digest, uint64_t> seen;
  };
  auto state = std::make_shared<State>();
  return [state, &progress](const oci::Digest& digest, uint64_t done, uint64_t) {
    std::lock_guard lock(state->mu);
    uint64_t& seen = state->seen[digest];
    if (done > seen) {
      progress.advance(done - seen);
      seen = done;
    }
  };
}

}  // namespace sealift::install
