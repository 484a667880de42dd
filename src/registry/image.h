// Whole images (a manifest or an index with everything below it) moved with a RegistryClient:
// blobs in parallel on the transfer scheduler, manifests children before parents, tags last.
#pragma once

#include <cstdint>
#include <future>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "io/stream.h"
#include "oci/manifest.h"
#include "registry/client.h"
#include "registry/transfer.h"

namespace sealift::registry {

// The entries of an index that match any of `wanted` (all entries when `wanted` is empty).
// Throws Error(Input) naming a wanted platform that the index does not offer.
std::vector<oci::Descriptor> select_platforms(const oci::Manifest& index, const std::vector<oci::Platform>& wanted);

// Where pushed content comes from: an OCI layout on disk, the bundle archive.
class ContentSource {
 public:
  virtual ~ContentSource() = default;
  // The exact bytes of a manifest or index (checked against its digest by the caller).
  virtual std::string manifest_bytes(const oci::Descriptor& descriptor) = 0;
  // A blob's content from `offset`; may be called again for retries and resumes.
  virtual std::unique_ptr<io::Source> open_blob(const oci::Descriptor& descriptor, uint64_t offset) = 0;
};

// A blob being written into a ContentTarget; nothing is visible before commit().
class BlobWriter : public io::Sink {
 public:
  virtual void commit() = 0;
};

// Where pulled content goes: the bundler's store. Called from transfer workers, several at once.
class ContentTarget {
 public:
  virtual ~ContentTarget() = default;
  // Whether the target holds the blob already (a store may check its content here: it runs on a
  // transfer worker, in parallel with other transfers).
  virtual bool has_blob(const oci::Descriptor& descriptor) = 0;
  // The writer is committed only after every byte was checked against the descriptor's digest
  // and size, so a store may trust what it commits without hashing it again.
  virtual std::unique_ptr<BlobWriter> write_blob(const oci::Descriptor& descriptor) = 0;
  virtual void put_manifest(const oci::Manifest& manifest) = 0;
};

struct ImageTransfer {
  oci::Descriptor root;
  std::vector<oci::Descriptor> manifests;  // every manifest and index moved, children first
  std::vector<oci::Descriptor> blobs;      // every config and layer, deduplicated
};

// Pushes everything under `root` into `repository`: all blobs (in parallel), then image manifests,
// then indexes (each by digest, skipped when already present), then each tag. Manifest bytes are
// checked against their descriptors before they leave.
ImageTransfer push_image(RegistryClient& client, TransferScheduler& scheduler, const std::string& repository,
                         const oci::Descriptor& root, ContentSource& source, const std::vector<std::string>& tags);

// Pulls `reference` from `repository` into `target`: the root manifest or index, the platform
// manifests selected by `platforms` (all when empty), and their blobs in parallel. The root index
// keeps its exact bytes even when only some of its platforms are pulled.
ImageTransfer pull_image(RegistryClient& client, TransferScheduler& scheduler, const std::string& repository,
                         const std::string& reference, const std::vector<oci::Platform>& platforms, ContentTarget& target);

// Pulls many images into one target at once: add() fetches an image's manifests and queues its
// blobs on the scheduler without waiting, so the blobs of every image are in flight together, and
// a blob listed by several images is fetched once. Configs go ahead of layers. Callers wait for
// the blobs they need (wait_blob) or for all of them (finish); waiting on one puller never waits
// for another caller's jobs on the same scheduler.
class ImagePuller {
 public:
  ImagePuller(TransferScheduler& scheduler, ContentTarget& target);
  ImagePuller(const ImagePuller&) = delete;
  ImagePuller& operator=(const ImagePuller&) = delete;

  struct Image {
    ImageTransfer transfer;
    std::vector<oci::Manifest> manifests;  // the documents of transfer.manifests, in its order
  };
  // As pull_image, but returns once the manifests are fetched and the blobs queued.
  Image add(RegistryClient& client, const std::string& repository, const std::string& reference,
            const std::vector<oci::Platform>& platforms);
  // Waits until the blob (queued by add) is in the target; rethrows the first failure of any.
  void wait_blob(const oci::Digest& digest);
  // Whether the blob's job (queued by add) has ended, with success or not; never waits.
  bool ended(const oci::Digest& digest) const;
  // From now on add() queues only configs; layers wait until release() (or wait_blob, or
  // finish), so that a caller consuming them in an order of its own can keep the transfers just
  // ahead of it instead of racing through everything.
  void hold_layers() { hold_ = true; }
  void release(const oci::Digest& digest);
  // Waits for every queued blob, then puts every manifest into the target (children first), so
  // the target never holds a manifest whose blobs it lacks.
  void finish();

 private:
  TransferScheduler& scheduler_;
  ContentTarget& target_;
  uint64_t id_;
  std::map<oci::Digest, std::shared_future<void>> blobs_;
  bool hold_ = false;
  std::map<oci::Digest, std::pair<std::string, std::function<void()>>> held_;
  std::vector<oci::Manifest> manifests_;
};

}  // namespace sealift::registry
