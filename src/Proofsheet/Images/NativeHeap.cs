using System.Runtime.InteropServices;

namespace Proofsheet.Images;

/// <summary>
/// Gives the C heap's free memory back to the system after libvips' work. libvips allocates an image's
/// pixels through glibc's malloc on its own worker threads; glibc keeps what they free in per-thread
/// arenas for reuse and only returns it when asked, so one publish left ~25 MB resident for good
/// (bench/run.sh --only render). <c>malloc_trim</c> releases the free pages of every arena.
/// </summary>
internal static class NativeHeap
{
    private static bool _unavailable = !OperatingSystem.IsLinux();

    /// <summary>True when some memory was given back.</summary>
    public static bool Trim()
    {
        if (_unavailable)
        {
            return false;
        }
        try
        {
            return MallocTrim(0) == 1;
        }
        catch (Exception ex) when (ex is EntryPointNotFoundException or DllNotFoundException)
        {
            // Not glibc (musl has no malloc_trim): nothing to give back this way.
            _unavailable = true;
            return false;
        }
    }

#pragma warning disable SYSLIB1054 // One blittable call: LibraryImport would need unsafe blocks for nothing.
    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);
#pragma warning restore SYSLIB1054
}
