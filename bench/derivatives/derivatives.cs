#:project ../../src/Proofsheet/Proofsheet.csproj
#:property PublishAot=false
// Time and memory to make the web derivatives of one SDXL-sized image (1024², PNG), with the app's own
// code (Proofsheet.Images.WebImages), and the image bytes a post's page needs before and after.
// Run: dotnet run bench/derivatives/derivatives.cs -- [reps]
using System.Diagnostics;
using Proofsheet.Images;

var reps = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 10;
// A render-like PNG: smooth colour fields with fine grain (compresses about as badly as a real render).
using var field = NetVips.Image.Xyz(1024, 1024);
using var x = field[0] / 1024.0 * Math.PI * 2;
using var y = field[1] / 1024.0 * Math.PI * 3;
using var r = x.Math(NetVips.Enums.OperationMath.Sin) * 90 + 128;
using var g = y.Math(NetVips.Enums.OperationMath.Cos) * 90 + 128;
using var b = (x + y).Math(NetVips.Enums.OperationMath.Sin) * 90 + 128;
using var noise = NetVips.Image.Gaussnoise(1024, 1024, mean: 0, sigma: 3);
using var rgb = r.Bandjoin(g, b) + noise;
using var pixels = rgb.Cast(NetVips.Enums.BandFormat.Uchar);
var source = pixels.PngsaveBuffer();

EncodedImage thumb = null!, large = null!, card = null!;
IReadOnlyList<EncodedImage> responsive = [];
void MakeAll()
{
    thumb = WebImages.FitWebp(source, 400);
    large = WebImages.FitWebp(source, 1600);
    card = WebImages.SocialCard(source);
    responsive = WebImages.HeroCrops(source, 1024, 1024, focus: null);
}
MakeAll(); // warm-up: loads libvips and its codecs
var times = new List<double>();
for (var i = 0; i < reps; i++)
{
    var watch = Stopwatch.StartNew();
    MakeAll();
    times.Add(watch.Elapsed.TotalMilliseconds);
}
times.Sort();
Console.WriteLine($"source PNG 1024x1024: {source.Length:N0} bytes");
Console.WriteLine($"all derivatives (thumb 400, large, social card, WebP 480/960/1024), {reps} reps: median {times[reps / 2]:0} ms, min {times[0]:0} ms, max {times[^1]:0} ms");
Console.WriteLine($"libvips memory high-water: {NetVips.Stats.MemHighwater / 1048576.0:0.0} MiB; process peak working set: {Process.GetCurrentProcess().PeakWorkingSet64 / 1048576.0:0} MiB");
Console.WriteLine($"thumb {thumb.Width}x{thumb.Height} WebP: {thumb.Data.Length:N0} bytes");
Console.WriteLine($"large {large.Width}x{large.Height} WebP: {large.Data.Length:N0} bytes");
Console.WriteLine($"social card {card.Width}x{card.Height} JPEG: {card.Data.Length:N0} bytes");
foreach (var copy in responsive)
{
    Console.WriteLine($"srcset {copy.Width}w WebP: {copy.Data.Length:N0} bytes");
}
