#!/usr/bin/env python3
"""SPDX 2.3 SBOM (JSON) of one portable sealift binary, written by scripts/release.sh.

The binary is one package; every component that scripts/portable/build-deps.sh linked into it
(share/components.tsv: name, version, source, SPDX licence, package URL) is another, related by
STATIC_LINK. The C library is the host's and not part of it. Deterministic: the creation time is
SOURCE_DATE_EPOCH and the namespace is derived from the binary's digest.
"""
import argparse
import datetime
import hashlib
import json
import os
import re
import sys


def spdx_id(text):
    return "SPDXRef-" + re.sub(r"[^A-Za-z0-9.-]", "-", text)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--binary", required=True)
    p.add_argument("--name", required=True)
    p.add_argument("--version", required=True)
    p.add_argument("--arch", required=True)
    p.add_argument("--components", required=True)
    a = p.parse_args()

    with open(a.binary, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    created = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    main_id = spdx_id(f"Package-{a.name}")
    packages = [{
        "SPDXID": main_id,
        "name": a.name,
        "versionInfo": a.version,
        "packageFileName": a.name,
        "supplier": "Organization: sealift",
        "downloadLocation": "NOASSERTION",
        "filesAnalyzed": False,
        "checksums": [{"algorithm": "SHA256", "checksumValue": digest}],
        "licenseConcluded": "NOASSERTION",
        "licenseDeclared": "NOASSERTION",
        "copyrightText": "NOASSERTION",
        "primaryPackagePurpose": "APPLICATION",
        "comment": f"linux/{a.arch}, glibc 2.28 or newer; every other library is linked statically",
    }]
    relationships = [{"spdxElementId": "SPDXRef-DOCUMENT", "relationshipType": "DESCRIBES",
                      "relatedSpdxElement": main_id}]
    with open(a.components) as f:
        rows = sorted(line.rstrip("\n").split("\t") for line in f if line.strip())
    for name, version, source, licence, purl in rows:
        pid = spdx_id(f"Package-{name}")
        packages.append({
            "SPDXID": pid,
            "name": name,
            "versionInfo": version,
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": False,
            "licenseConcluded": licence,
            "licenseDeclared": licence,
            "copyrightText": "NOASSERTION",
            "sourceInfo": f"built from {source}",
            "primaryPackagePurpose": "LIBRARY",
            "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                              "referenceLocator": purl}],
        })
        relationships.append({"spdxElementId": main_id, "relationshipType": "STATIC_LINK",
                              "relatedSpdxElement": pid})
    doc = {
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": f"{a.name}-{a.version}-linux-{a.arch}",
        "documentNamespace": f"https://sealift.invalid/spdx/{a.name}-{a.version}-linux-{a.arch}-{digest}",
        "creationInfo": {"created": created, "creators": ["Tool: sealift scripts/release.sh"]},
        "packages": packages,
        "relationships": relationships,
    }
    json.dump(doc, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
