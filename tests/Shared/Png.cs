using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace Proofsheet.Testing;

/// <summary>Real PNG files for stand-ins: small coloured ones, and large incompressible ones (shared by the tests and the benchmarks).</summary>
public static class Png
{
    public static byte[] Encode(int width, int height, byte r, byte g, byte b) =>
        Encode(width, height, (row, x) => x % 3 == 0 ? r : x % 3 == 1 ? g : b, CompressionLevel.Optimal);

    /// <summary>A colour per index, so the images of one batch differ.</summary>
    public static byte[] ForIndex(int index, int size = 16) =>
        Encode(size, size, (byte)(40 * index % 256), (byte)(255 - 30 * index % 256), (byte)(90 + 50 * index % 166));

    /// <summary>
    /// Like a diffusion model's render (SDXL is 1024×1024): smooth colour fields with fine grain, which
    /// PNG compresses about as badly as a real render (~1.5 MB at 1024²). <paramref name="index"/> varies the colours.
    /// </summary>
    public static byte[] Render(int size, int index)
    {
        var random = new Random(index);
        var grain = new byte[size * 3];
        return Encode(size, size, (y, x) =>
        {
            if (x == 0)
            {
                random.NextBytes(grain);
            }
            var channel = x % 3;
            var px = x / 3;
            var field = 128 + 90 * Math.Sin((px * (channel + 1) + y * (index + 2)) / (double)size * Math.PI + index);
            return (byte)Math.Clamp(field + (grain[x] & 7) - 4, 0, 255);
        }, CompressionLevel.Optimal);
    }

    /// <summary>Noise stored without compression: the file is at least <paramref name="minBytes"/> long, as a real render of that size would be.</summary>
    public static byte[] Large(long minBytes)
    {
        var side = (int)Math.Ceiling(Math.Sqrt(minBytes / 3.0));
        var random = new Random(7);
        var row = new byte[side * 3];
        return Encode(side, side, (y, x) =>
        {
            if (x == 0)
            {
                random.NextBytes(row);
            }
            return row[x];
        }, CompressionLevel.NoCompression);
    }

    private static byte[] Encode(int width, int height, Func<int, int, byte> pixel, CompressionLevel level)
    {
        using var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, level, leaveOpen: true))
        {
            var line = new byte[width * 3 + 1];
            for (var y = 0; y < height; y++)
            {
                line[0] = 0; // filter: none
                for (var x = 0; x < width * 3; x++)
                {
                    line[x + 1] = pixel(y, x);
                }
                z.Write(line);
            }
        }
        using var png = new MemoryStream();
        png.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteUInt32BigEndian(ihdr, (uint)width);
        BinaryPrimitives.WriteUInt32BigEndian(ihdr.AsSpan(4), (uint)height);
        ihdr[8] = 8; // bit depth
        ihdr[9] = 2; // colour type: truecolour
        WriteChunk(png, "IHDR", ihdr);
        WriteChunk(png, "IDAT", compressed.ToArray());
        WriteChunk(png, "IEND", []);
        return png.ToArray();
    }

    private static void WriteChunk(Stream s, string type, byte[] data)
    {
        Span<byte> len = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(len, (uint)data.Length);
        s.Write(len);
        var typeBytes = Encoding.ASCII.GetBytes(type);
        s.Write(typeBytes);
        s.Write(data);
        var crc = Crc32(typeBytes, data);
        BinaryPrimitives.WriteUInt32BigEndian(len, crc);
        s.Write(len);
    }

    private static readonly uint[] Table = Enumerable.Range(0, 256).Select(n =>
    {
        var c = (uint)n;
        for (var k = 0; k < 8; k++)
        {
            c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        }
        return c;
    }).ToArray();

    private static uint Crc32(byte[] type, byte[] data)
    {
        var c = 0xFFFFFFFFu;
        foreach (var b in type)
        {
            c = Table[(c ^ b) & 0xFF] ^ (c >> 8);
        }
        foreach (var b in data)
        {
            c = Table[(c ^ b) & 0xFF] ^ (c >> 8);
        }
        return c ^ 0xFFFFFFFFu;
    }
}
