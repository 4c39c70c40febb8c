using Microsoft.Win32.SafeHandles;

namespace Proofsheet.Images;

/// <summary>
/// A generated image's bytes: in memory for backends that hand over a small array, or in a spool file
/// for backends whose answers are decoded as they arrive (<see cref="JsonImageReader"/>), so a 25 MB
/// render never sits in the process as a base64 string, a parsed document and a decoded array at once.
/// Dispose it once the preview store has the image: a spool file is deleted then (and by the runtime
/// when the handle is finalised, should an owner forget).
/// </summary>
public sealed class ImageContent : IDisposable
{
    /// <summary>Enough of the file for <see cref="ImageSniffer"/> (a JPEG's size may follow a large EXIF block).</summary>
    internal const int HeadBytes = 256 * 1024;

    private readonly byte[]? _bytes;
    private readonly FileStream? _spool;
    private readonly byte[] _head;
    private int _headLength;

    private ImageContent(byte[] bytes)
    {
        _bytes = bytes;
        _head = bytes;
        _headLength = bytes.Length;
        Length = bytes.LongLength;
    }

    private ImageContent(FileStream spool)
    {
        _spool = spool;
        _head = new byte[HeadBytes];
        Interlocked.Increment(ref _openSpools);
    }

    private static int _openSpools;
    private int _disposed;

    /// <summary>Spool files made and not yet disposed in this process (tests check that failures leave none).</summary>
    internal static int OpenSpools => Volatile.Read(ref _openSpools);

    public static ImageContent FromBytes(byte[] bytes) => new(bytes);

    /// <summary>An empty spool file in the temporary folder, removed when this is disposed.</summary>
    internal static ImageContent CreateSpool() =>
        new(new FileStream(Path.Combine(Path.GetTempPath(), $"proofsheet-{Guid.NewGuid():N}.spool"),
            FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, bufferSize: 0,
            FileOptions.DeleteOnClose | FileOptions.Asynchronous));

    public long Length { get; private set; }

    /// <summary>The first bytes (up to <see cref="HeadBytes"/>), for sniffing the type and size.</summary>
    public ReadOnlySpan<byte> Head => _head.AsSpan(0, _headLength);

    /// <summary>Appends decoded bytes to a spool.</summary>
    internal async ValueTask AppendAsync(ReadOnlyMemory<byte> data, CancellationToken ct)
    {
        var spool = _spool ?? throw new InvalidOperationException("Only a spool grows.");
        if (_headLength < _head.Length)
        {
            var n = Math.Min(data.Length, _head.Length - _headLength);
            data.Span[..n].CopyTo(_head.AsSpan(_headLength));
            _headLength += n;
        }
        await RandomAccess.WriteAsync(spool.SafeFileHandle, data, Length, ct);
        Length += data.Length;
    }

    /// <summary>A new reader from the first byte; several may be open, each with its own position.</summary>
    public Stream OpenRead() => _bytes is not null
        ? new MemoryStream(_bytes, writable: false)
        : new SpoolReader(_spool!.SafeFileHandle, Length);

    /// <summary>All the bytes in one array: for small images and tests; the pipeline streams with <see cref="OpenRead"/>.</summary>
    public byte[] ToArray()
    {
        if (_bytes is not null)
        {
            return _bytes;
        }
        var all = new byte[Length];
        var read = 0;
        while (read < all.Length)
        {
            read += RandomAccess.Read(_spool!.SafeFileHandle, all.AsSpan(read), read);
        }
        return all;
    }

    public void Dispose()
    {
        if (_spool is not null && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _spool.Dispose();
            Interlocked.Decrement(ref _openSpools);
        }
    }

    /// <summary>Reads the spool through positional reads, so that readers do not share a position.</summary>
    private sealed class SpoolReader(SafeFileHandle handle, long length) : Stream
    {
        private long _position;

        public override bool CanRead => true;
        public override bool CanSeek => true;
        public override bool CanWrite => false;
        public override long Length => length;

        public override long Position
        {
            get => _position;
            set => _position = Math.Clamp(value, 0, length);
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = RandomAccess.Read(handle, buffer[..(int)Math.Min(buffer.Length, length - _position)], _position);
            _position += n;
            return n;
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) =>
            ReadAsync(buffer.AsMemory(offset, count), ct).AsTask();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default)
        {
            var n = await RandomAccess.ReadAsync(handle, buffer[..(int)Math.Min(buffer.Length, length - _position)], _position, ct);
            _position += n;
            return n;
        }

        public override long Seek(long offset, SeekOrigin origin) => Position = origin switch
        {
            SeekOrigin.Begin => offset,
            SeekOrigin.Current => _position + offset,
            _ => length + offset,
        };

        public override void Flush()
        {
        }

        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
