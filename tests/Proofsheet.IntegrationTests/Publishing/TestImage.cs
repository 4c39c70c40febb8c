using System.Security.Cryptography;
using Proofsheet.Publishing;

namespace Proofsheet.IntegrationTests.Publishing;

/// <summary>
/// Random image bytes handed to a publishing store as the publisher does: a fresh stream per
/// attempt, read once from the start. By default the stream cannot seek, like an object being
/// downloaded from a preview bucket, so a store that needs to seek or to know a path fails.
/// </summary>
public sealed class TestImage(string key, string contentType = "image/png", int size = 200_000)
{
    public string Key { get; } = key;
    public byte[] Bytes { get; } = RandomNumberGenerator.GetBytes(size);

    public PublishRequest Request(bool seekable = false)
    {
        Stream stream = new MemoryStream(Bytes, writable: false);
        return new PublishRequest(Key, seekable ? stream : new ForwardOnlyStream(stream), contentType, Bytes.Length, Convert.ToHexStringLower(SHA256.HashData(Bytes)));
    }
}

/// <summary>Reads forward only; optionally breaks after some bytes, as a dropped download would.</summary>
public sealed class ForwardOnlyStream(Stream inner, long failAfter = long.MaxValue) : Stream
{
    private long _read;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Count(await inner.ReadAsync(buffer, cancellationToken));
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    private int Count(int read)
    {
        _read += read;
        if (_read > failAfter)
        {
            throw new IOException("The connection to the preview store broke.");
        }
        return read;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }
        base.Dispose(disposing);
    }
}
