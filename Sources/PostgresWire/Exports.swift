@_exported import Buffers
