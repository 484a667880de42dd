module sealift.local/harborlike

go 1.23
