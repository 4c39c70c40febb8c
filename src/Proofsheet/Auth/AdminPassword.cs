using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.EntityFrameworkCore;
using Proofsheet.Data;

namespace Proofsheet.Auth;

/// <summary>
/// The Oversight Hub's password: <c>Auth:AdminPassword</c> when configured; otherwise one generated
/// at first start, printed once to the console and kept only as a PBKDF2 hash in the settings table.
/// </summary>
public sealed class AdminPassword(IConfiguration configuration, IDbContextFactory<AppDbContext> dbs, ILogger<AdminPassword> logger)
{
    public const string SettingKey = "hub.admin_password";
    private const int Iterations = 210_000;
    private volatile string? _stored;

    public async Task InitializeAsync(CancellationToken ct)
    {
        if (!string.IsNullOrEmpty(configuration["Auth:AdminPassword"]))
        {
            return;
        }
        await using var db = await dbs.CreateDbContextAsync(ct);
        var row = await db.Settings.AsNoTracking().SingleOrDefaultAsync(s => s.Key == SettingKey, ct);
        if (row is not null)
        {
            _stored = row.Value;
            return;
        }
        var password = Convert.ToBase64String(RandomNumberGenerator.GetBytes(18)).Replace('+', '-').Replace('/', '_');
        var hash = HashPassword(password);
        db.Settings.Add(new AppSetting { Key = SettingKey, Value = hash, UpdatedAt = DateTime.UtcNow });
        await db.SaveChangesAsync(ct);
        _stored = hash;
        // Printed once to the console, never to the logs; only its hash is kept.
        Console.WriteLine();
        Console.WriteLine("  Proofsheet generated the Oversight Hub password (shown only this once; set Auth:AdminPassword to use your own):");
        Console.WriteLine($"    {password}");
        Console.WriteLine();
        logger.LogInformation("A Hub password was generated and printed to the console; only its hash is stored");
    }

    /// <summary>Constant-time comparison against the configured password or the stored hash.</summary>
    public bool Verify(string? presented)
    {
        if (string.IsNullOrEmpty(presented) || presented.Length > 1024)
        {
            return false;
        }
        var configured = configuration["Auth:AdminPassword"];
        if (!string.IsNullOrEmpty(configured))
        {
            return CryptographicOperations.FixedTimeEquals(
                SHA256.HashData(Encoding.UTF8.GetBytes(presented)), SHA256.HashData(Encoding.UTF8.GetBytes(configured)));
        }
        return _stored is { } stored && VerifyHash(presented, stored);
    }

    public static string HashPassword(string password)
    {
        var salt = RandomNumberGenerator.GetBytes(16);
        var hash = Rfc2898DeriveBytes.Pbkdf2(password, salt, Iterations, HashAlgorithmName.SHA256, 32);
        return string.Create(CultureInfo.InvariantCulture, $"pbkdf2-sha256${Iterations}${Convert.ToBase64String(salt)}${Convert.ToBase64String(hash)}");
    }

    public static bool VerifyHash(string password, string stored)
    {
        var parts = stored.Split('$');
        if (parts.Length != 4 || parts[0] != "pbkdf2-sha256" || !int.TryParse(parts[1], CultureInfo.InvariantCulture, out var iterations))
        {
            return false;
        }
        var salt = Convert.FromBase64String(parts[2]);
        var expected = Convert.FromBase64String(parts[3]);
        var actual = Rfc2898DeriveBytes.Pbkdf2(password, salt, iterations, HashAlgorithmName.SHA256, expected.Length);
        return CryptographicOperations.FixedTimeEquals(actual, expected);
    }
}
