#!/usr/bin/env python3
"""The work list of scripts/bench.sh's push floor ("curl-floor" in scenario 2).

  push_floor.py STORAGE FLOOR_DIR

STORAGE is the storage directory of a docker-registry (2.8 filesystem layout) that sealift-install
push has just filled: its repositories, blobs, manifests and tags are exactly what a push of the
bundle sends. Writes into FLOOR_DIR, for the plain curl client that bench.sh times:

  blobs/HEX       every distinct blob's bytes (a hard link into STORAGE when possible, else a copy):
                  the bench wipes STORAGE between runs, the links keep the bytes
  manifests/HEX   every manifest's bytes
  blobs.txt       one line per distinct blob, largest first: DIGEST REPOSITORY [REPOSITORY...]
                  (uploaded once into the first repository, mounted into the others)
  manifests.txt   REPOSITORY DIGEST MEDIA_TYPE, every manifest that is not an index
  indexes.txt     the same for indexes (sent after every manifest: the registry checks children)
  tags.txt        REPOSITORY TAG MEDIA_TYPE DIGEST
and prints "BLOBS BYTES MANIFESTS TAGS" on stdout.
"""
import json
import os
import shutil
import sys

INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")


def read_link(path):
    with open(path) as f:
        return f.read().strip()


def place(src, dst):
    if os.path.exists(dst):
        return
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    storage, out = sys.argv[1], sys.argv[2]
    v2 = os.path.join(storage, "docker", "registry", "v2")
    repos_root = os.path.join(v2, "repositories")

    def blob_data(digest):
        hexd = digest.split(":", 1)[1]
        return os.path.join(v2, "blobs", "sha256", hexd[:2], hexd, "data")

    blob_repos = {}  # digest -> [repository, ...]
    manifests = []   # (repository, digest)
    tags = []        # (repository, tag, digest)
    for dirpath, dirnames, _ in os.walk(repos_root):
        if "_layers" not in dirnames and "_manifests" not in dirnames:
            continue
        repo = os.path.relpath(dirpath, repos_root)
        layers = os.path.join(dirpath, "_layers", "sha256")
        for hexd in sorted(os.listdir(layers)) if os.path.isdir(layers) else []:
            blob_repos.setdefault("sha256:" + hexd, []).append(repo)
        revisions = os.path.join(dirpath, "_manifests", "revisions", "sha256")
        for hexd in sorted(os.listdir(revisions)) if os.path.isdir(revisions) else []:
            manifests.append((repo, "sha256:" + hexd))
        tag_dir = os.path.join(dirpath, "_manifests", "tags")
        for tag in sorted(os.listdir(tag_dir)) if os.path.isdir(tag_dir) else []:
            tags.append((repo, tag, read_link(os.path.join(tag_dir, tag, "current", "link"))))
        dirnames[:] = [d for d in dirnames if not d.startswith("_")]

    os.makedirs(os.path.join(out, "blobs"), exist_ok=True)
    os.makedirs(os.path.join(out, "manifests"), exist_ok=True)
    total = 0
    sized = []
    for digest, repos in blob_repos.items():
        size = os.path.getsize(blob_data(digest))
        total += size
        sized.append((-size, digest, sorted(repos)))
        place(blob_data(digest), os.path.join(out, "blobs", digest.split(":", 1)[1]))
    with open(os.path.join(out, "blobs.txt"), "w") as f:
        for _, digest, repos in sorted(sized):
            f.write(" ".join([digest] + repos) + "\n")

    media = {}
    for _, digest in manifests:
        if digest in media:
            continue
        path = blob_data(digest)
        place(path, os.path.join(out, "manifests", digest.split(":", 1)[1]))
        with open(path, "rb") as f:
            doc = json.load(f)
        mt = doc.get("mediaType")
        if not mt:
            mt = INDEX_TYPES[0] if "manifests" in doc else "application/vnd.oci.image.manifest.v1+json"
        media[digest] = mt
    with open(os.path.join(out, "manifests.txt"), "w") as m, open(os.path.join(out, "indexes.txt"), "w") as i:
        for repo, digest in manifests:
            (i if media[digest] in INDEX_TYPES else m).write(f"{repo} {digest} {media[digest]}\n")
    with open(os.path.join(out, "tags.txt"), "w") as f:
        for repo, tag, digest in tags:
            f.write(f"{repo} {tag} {media[digest]} {digest}\n")
    print(len(blob_repos), total, len(manifests), len(tags))


if __name__ == "__main__":
    main()
