using System.ComponentModel.DataAnnotations;

namespace Proofsheet.Email;

/// <summary><c>Email:*</c>. With no <c>Email:Smtp:Host</c>, no email is written or sent.</summary>
public sealed class EmailOptions
{
    public const string Section = "Email";

    public SmtpOptions Smtp { get; set; } = new();
    /// <summary>The sender's address, e.g. <c>Proofsheet &lt;proofsheet@example.com&gt;</c>.</summary>
    public string From { get; set; } = "Proofsheet <proofsheet@localhost>";
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(30);
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromHours(1);
    /// <summary>After this many failed attempts a message is given up (kept with its last error, and logged).</summary>
    [Range(1, 1000)] public int MaxAttempts { get; set; } = 10;
    /// <summary>How often the sender looks for due messages it was not told about (retries, other nodes).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(30);

    public bool Enabled => !string.IsNullOrWhiteSpace(Smtp.Host);
}

public sealed class SmtpOptions
{
    public string? Host { get; set; }
    [Range(1, 65535)] public int Port { get; set; } = 587;
    /// <summary><c>auto</c> (STARTTLS when offered), <c>starttls</c> (required), <c>tls</c> (implicit, port 465) or <c>none</c>.</summary>
    public string Security { get; set; } = "auto";
    public string? Username { get; set; }
    public string? Password { get; set; }
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);
}
