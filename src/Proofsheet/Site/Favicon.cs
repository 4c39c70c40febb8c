using System.Buffers.Binary;

namespace Proofsheet.Site;

/// <summary>
/// <c>/favicon.ico</c>, which browsers and crawlers ask for whatever the page says: the SVG icon in
/// wwwroot rendered once at 32 px and wrapped as an ICO (an ICO may hold a PNG).
/// </summary>
public static class Favicon
{
    public static byte[] Ico(byte[] svg)
    {
        using var image = NetVips.Image.SvgloadBuffer(svg, scale: 32.0 / 64);
        var png = image.PngsaveBuffer();
        var ico = new byte[6 + 16 + png.Length];
        BinaryPrimitives.WriteUInt16LittleEndian(ico.AsSpan(2), 1); // type: icon
        BinaryPrimitives.WriteUInt16LittleEndian(ico.AsSpan(4), 1); // one image
        ico[6] = (byte)image.Width;
        ico[7] = (byte)image.Height;
        BinaryPrimitives.WriteUInt16LittleEndian(ico.AsSpan(10), 1); // planes
        BinaryPrimitives.WriteUInt16LittleEndian(ico.AsSpan(12), 32); // bits per pixel
        BinaryPrimitives.WriteUInt32LittleEndian(ico.AsSpan(14), (uint)png.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(ico.AsSpan(18), 22); // offset of the PNG
        png.CopyTo(ico, 22);
        return ico;
    }
}
