namespace Proofsheet.Images;

/// <summary>
/// What seed a request may name. ComfyUI's KSampler takes 0..2^64-1, and a candidate's own seed must be
/// accepted back (JSON numbers past 2^63, read as <see cref="decimal"/> so that nothing is rounded).
/// The other backends keep the signed 64-bit range: AUTOMATIC1111 draws its own seeds below 2^32 and
/// passes a given one to torch, but extensions that seed NumPy refuse anything from 2^32 up, so nothing
/// past what it has always been offered is promised there.
/// </summary>
public static class Seeds
{
    public const string ComfyUI = "comfyui";

    /// <summary>-1 (or none) draws a new seed; otherwise a whole number in the backend's range.</summary>
    public static bool IsValid(decimal? seed, string? source) =>
        seed is not { } s
        || (s == decimal.Truncate(s) && s >= -1 && s <= (IsComfyUI(source) ? ulong.MaxValue : long.MaxValue));

    public static string Rule(string? source) => IsComfyUI(source)
        ? $"seed must be a whole number from 0 to {ulong.MaxValue} (or -1 for a new one)."
        : $"seed must be a whole number from 0 to {long.MaxValue} (or -1 for a new one); seeds up to {ulong.MaxValue} work with source \"comfyui\".";

    /// <summary>The seed to render with; null draws a new one. Call after <see cref="IsValid"/>.</summary>
    public static ulong? Chosen(decimal? seed) => seed is null or -1 ? null : (ulong)seed.Value;

    private static bool IsComfyUI(string? source) => string.Equals(source?.Trim(), ComfyUI, StringComparison.OrdinalIgnoreCase);
}
