using System.Text;
using Microsoft.EntityFrameworkCore;

namespace Proofsheet.Tasks;

/// <summary>A row with a time-ordered id (see <see cref="Ids"/>), so newest first is highest id first.</summary>
public interface IHasId
{
    string Id { get; }
}

/// <summary>Opaque paging cursors: the last id of a page, base64url-encoded.</summary>
public static class Cursor
{
    public static bool IsValid(string? cursor) => cursor is null || TryDecode(cursor, out _);

    /// <summary>One page, newest first, after <paramref name="cursor"/> (already validated with <see cref="IsValid"/>).</summary>
    public static async Task<(List<T> Items, string? Next)> NewestFirstAsync<T>(IQueryable<T> query, string? cursor, int take, CancellationToken ct)
        where T : class, IHasId
    {
        if (cursor is not null && TryDecode(cursor, out var after))
        {
#pragma warning disable CA1309 // EF translates string.Compare, not its ordinal form; ids are ASCII hex
            query = query.Where(e => string.Compare(e.Id, after) < 0);
#pragma warning restore CA1309
        }
        var page = await query.OrderByDescending(e => e.Id).Take(take + 1).ToListAsync(ct);
        var items = page.Take(take).ToList();
        return (items, page.Count > take ? Encode(items[^1].Id) : null);
    }

    public static string Encode(string id) => Convert.ToBase64String(Encoding.UTF8.GetBytes(id)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public static bool TryDecode(string cursor, out string id)
    {
        id = "";
        if (cursor.Length is 0 or > 100)
        {
            return false;
        }
        var b64 = cursor.Replace('-', '+').Replace('_', '/');
        b64 = b64.PadRight(b64.Length + (4 - b64.Length % 4) % 4, '=');
        var buffer = new byte[b64.Length];
        if (!Convert.TryFromBase64String(b64, buffer, out var written))
        {
            return false;
        }
        id = Encoding.UTF8.GetString(buffer, 0, written);
        return Ids.IsValid(id);
    }
}
