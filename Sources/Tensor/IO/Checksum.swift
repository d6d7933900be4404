// zlib's CRC-32, for files whose damage must be found before their contents are used.
import CZlib

/// CRC-32 (the gzip and PNG polynomial) of `bytes`, continuing from `crc` for data in pieces.
public func crc32(_ bytes: UnsafeRawBufferPointer, continuing crc: UInt32 = 0) -> UInt32 {
    guard let base = bytes.baseAddress, !bytes.isEmpty else { return crc }
    return UInt32(crc32_z(UInt(crc), base.assumingMemoryBound(to: UInt8.self), bytes.count))
}
