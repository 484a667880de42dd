#include "registry/image.h"

#include <algorithm>
#include <atomic>
#include <set>

#include <fmt/format.h>

#include "util/error.h"

namespace sealift::registry {

std::vector<oci::Descriptor> select_platforms(const oci::Manifest& index, const std::vector<oci::Platform>& wanted) {
  if (wanted.empty()) return index.manifests();
  std::vector<oci::Descriptor> out;
  for (const oci::Platform& w : wanted) {
    bool found = false;
    for (const oci::Descriptor& d : index.manifests()) {
      if (!d.platform || !w.matches(*d.platform)) continue;
      found = true;
      bool dup = std::any_of(out.begin(), out.end(), [&](const oci::Descriptor& o) { return o.digest == d.digest; });
      if (!dup) out.push_back(d);
    }
    if (!found) {
      std::string offered;
      for (const oci::Descriptor& d : index.manifests())
        if (d.platform) offered += (offered.empty() ? "" : ", ") + d.platform->str();
      throw Error(ErrorKind::Input,
                  fmt::format("index {} has no image for platform {}", index.digest().str(), w.str()),
                  offered.empty() ? "" : "it offers: " + offered);
    }
  }
  return out;
}

namespace {

oci::Manifest checked_manifest(ContentSource& source, const oci::Descriptor& d) {
  std::string bytes = source.manifest_bytes(d);
  oci::Digest got = oci::Digest::of(bytes);
  if (got != d.digest || static_cast<int64_t>(bytes.size()) != d.size)
    throw Error(ErrorKind::Integrity, fmt::format("manifest {}: the content has digest {} and {} bytes, the descriptor "
                                                  "says {} bytes",
                                                  d.digest.str(), got.str(), bytes.size(), d.size));
  return oci::Manifest::parse(std::move(bytes), d.media_type);
}

// Depth-first, children before parents.
void collect(ContentSource& source, const oci::Descriptor& d, std::vector<oci::Manifest>& manifests,
             std::vector<oci::Descriptor>& blobs, std::set<oci::Digest>& seen, int depth) {
  if (depth > 8) throw Error(ErrorKind::Input, fmt::format("manifest {}: indexes nested too deeply", d.digest.str()));
  if (!seen.insert(d.digest).second) return;
  oci::Manifest m = checked_manifest(source, d);
  if (m.is_index()) {
    for (const oci::Descriptor& child : m.manifests()) collect(source, child, manifests, blobs, seen, depth + 1);
  } else {
    for (const oci::Descriptor& b : m.children())
      if (seen.insert(b.digest).second) blobs.push_back(b);
  }
  manifests.push_back(std::move(m));
}

}  // namespace

ImageTransfer push_image(RegistryClient& client, TransferScheduler& scheduler, const std::string& repository,
                         const oci::Descriptor& root, ContentSource& source, const std::vector<std::string>& tags) {
  check_repository(repository);
  for (const auto& t : tags) check_reference(t);
  ImageTransfer out;
  out.root = root;
  std::vector<oci::Manifest> manifests;
  std::set<oci::Digest> seen;
  collect(source, root, manifests, out.blobs, seen, 0);

  for (const oci::Descriptor& b : out.blobs) {
    scheduler.submit(fmt::format("push {}/{}@{}", client.registry(), repository, b.digest.str()), [&client, &source, repository, b] {
      client.push_blob(repository, b, [&source, b](uint64_t offset) { return source.open_blob(b, offset); });
    });
  }
  scheduler.wait();

  // Image manifests before the indexes that list them.
  std::stable_partition(manifests.begin(), manifests.end(), [](const oci::Manifest& m) { return !m.is_index(); });
  for (const oci::Manifest& m : manifests) {
    if (!client.manifest_exists(repository, m.digest())) client.put_manifest(repository, m.digest().str(), m);
    out.manifests.push_back(m.descriptor());
  }
  const oci::Manifest& top = *std::find_if(manifests.begin(), manifests.end(),
                                           [&](const oci::Manifest& m) { return m.digest() == root.digest; });
  for (const auto& tag : tags) client.put_manifest(repository, tag, top);
  return out;
}

ImageTransfer pull_image(RegistryClient& client, TransferScheduler& scheduler, const std::string& repository,
                         const std::string& reference, const std::vector<oci::Platform>& platforms, ContentTarget& target) {
  ImageTransfer out;
  oci::Manifest root = client.get_manifest(repository, reference);
  out.root = root.descriptor();
  std::vector<oci::Manifest> images;
  if (root.is_index()) {
    for (const oci::Descriptor& d : select_platforms(root, platforms)) {
      oci::Manifest m = client.get_manifest(repository, d);
      if (m.is_index())
        throw Error(ErrorKind::Input, fmt::format("pull {}/{}:{}: nested index {} is not supported", client.registry(),
                                                  repository, reference, d.digest.str()));
      images.push_back(std::move(m));
    }
  } else {
    images.push_back(root);
  }
  static std::atomic<uint64_t> pulls{0};
  const uint64_t pull_id = ++pulls;
  std::set<oci::Digest> seen;
  for (const oci::Manifest& m : images) {
    for (const oci::Descriptor& b : m.children()) {
      if (!seen.insert(b.digest).second) continue;
      out.blobs.push_back(b);
      if (target.has_blob(b)) continue;
      // One job per pull: another call may pull the same blob into another store, and within
      // this call `seen` already deduplicates.
      std::string key = fmt::format("pull {}@{} #{}", client.registry(), b.digest.str(), pull_id);
      scheduler.submit(key, [&client, &target, repository, b] {
        auto writer = target.write_blob(b);
        client.fetch_blob(repository, b, *writer);
        writer->commit();
      });
    }
  }
  scheduler.wait();
  for (const oci::Manifest& m : images) {
    target.put_manifest(m);
    out.manifests.push_back(m.descriptor());
  }
  if (root.is_index()) {
    target.put_manifest(root);
    out.manifests.push_back(root.descriptor());
  }
  return out;
}

}  // namespace sealift::registry
