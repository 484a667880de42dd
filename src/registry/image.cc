#include "registry/image.h"

#include <chrono>

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

ImagePuller::ImagePuller(TransferScheduler& scheduler, ContentTarget& target) : scheduler_(scheduler), target_(target) {
  static std::atomic<uint64_t> pullers{0};
  id_ = ++pullers;
}

ImagePuller::Image ImagePuller::add(RegistryClient& client, const std::string& repository, const std::string& reference,
                                    const std::vector<oci::Platform>& platforms) {
  Image out;
  oci::Manifest root = client.get_manifest(repository, reference);
  out.transfer.root = root.descriptor();
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
  std::set<oci::Digest> seen;
  for (const oci::Manifest& m : images) {
    for (const oci::Descriptor& b : m.children()) {
      if (!seen.insert(b.digest).second) continue;
      out.transfer.blobs.push_back(b);
      if (blobs_.count(b.digest) || held_.count(b.digest)) continue;
      // Keyed by puller: another puller may pull the same blob into another target.
      std::string key = fmt::format("pull {}@{} #{}", client.registry(), b.digest.str(), id_);
      bool config = b.digest == m.config().digest;
      auto job = [&client, target = &target_, repository, b] {
        // The target's own check runs here, on a worker: a store that verifies what an earlier
        // run left does so in parallel.
        if (target->has_blob(b)) return;
        auto writer = target->write_blob(b);
        client.fetch_blob(repository, b, *writer);
        writer->commit();
      };
      if (hold_ && !config) held_[b.digest] = {key, job};
      else blobs_[b.digest] = scheduler_.submit(key, job, config);
    }
  }
  for (oci::Manifest& m : images) {
    out.transfer.manifests.push_back(m.descriptor());
    out.manifests.push_back(std::move(m));
  }
  if (root.is_index()) {
    out.transfer.manifests.push_back(root.descriptor());
    out.manifests.push_back(root);
  }
  manifests_.insert(manifests_.end(), out.manifests.begin(), out.manifests.end());
  return out;
}

void ImagePuller::release(const oci::Digest& digest) {
  auto it = held_.find(digest);
  if (it == held_.end()) return;
  blobs_[digest] = scheduler_.submit(it->second.first, it->second.second);
  held_.erase(it);
}

void ImagePuller::wait_blob(const oci::Digest& digest) {
  release(digest);
  auto it = blobs_.find(digest);
  if (it == blobs_.end())
    throw Error(ErrorKind::Internal, fmt::format("blob {} was not queued by this pull", digest.str()));
  scheduler_.wait({it->second});
}

bool ImagePuller::ended(const oci::Digest& digest) const {
  if (held_.count(digest)) return false;
  auto it = blobs_.find(digest);
  return it == blobs_.end() || it->second.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
}

void ImagePuller::finish() {
  while (!held_.empty()) release(held_.begin()->first);
  std::vector<std::shared_future<void>> all;
  all.reserve(blobs_.size());
  for (const auto& [_, f] : blobs_) all.push_back(f);
  scheduler_.wait(all);
  for (const oci::Manifest& m : manifests_) target_.put_manifest(m);
}

ImageTransfer pull_image(RegistryClient& client, TransferScheduler& scheduler, const std::string& repository,
                         const std::string& reference, const std::vector<oci::Platform>& platforms, ContentTarget& target) {
  ImagePuller puller(scheduler, target);
  ImageTransfer out = puller.add(client, repository, reference, platforms).transfer;
  puller.finish();
  return out;
}

}  // namespace sealift::registry
